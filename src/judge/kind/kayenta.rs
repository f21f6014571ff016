//! `test: kayenta`: Kayenta's NetflixACAJudge-v1.0 classifier.

use crate::template::{JudgeSpec, KayentaSpec};

use crate::judge::decide::Outcome;
use crate::judge::dependence::Dependence;
use crate::judge::kind::Judge;
use crate::judge::prepare::Prepared;
use crate::judge::report::Classification;

impl Judge for KayentaSpec {
    fn judge(&self, _p: &Prepared<'_>, _judge: &JudgeSpec, _dep: &Dependence) -> Outcome {
        Outcome::without_test(Classification::Error, "not yet".into())
    }
}
