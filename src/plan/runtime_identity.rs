//! What a run's declared identity resolves to when it starts: the commit a
//! model revision points at, the data file's sha256, the selected samples.
//! Recorded at run start; a resumed run must see the same, or stop.

use serde::{Deserialize, Serialize};

/// Identities that only exist at run time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeIdentity {
    /// Hub commit sha, or the sha256 of a local model file.
    pub model_revision: String,
    /// sha256 of the data file (or of the files of a data directory).
    pub data_sha256: String,
    /// The selected sample ids, in evaluation order.
    pub sample_ids: Vec<String>,
    /// How the model computes: dtype and MLX backend (`float32 on cpu`).
    /// Empty in records written before it was kept (not compared then).
    #[serde(default)]
    pub compute: String,
    /// The runner build: version and the sha256 of its executable (16 hex).
    /// Empty in older records (not compared then).
    #[serde(default)]
    pub runner: String,
}

/// What differs between the identity recorded at a run's start and now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the run's inputs changed since it started: {}; finish it with the original inputs or start a new experiment", .changes.join("; "))]
pub struct IdentityMismatch {
    pub changes: Vec<String>,
}

impl RuntimeIdentity {
    /// Ok when `now` equals the recorded identity; otherwise every change.
    pub fn check_resume(&self, now: &RuntimeIdentity) -> Result<(), IdentityMismatch> {
        let mut changes = Vec::new();
        if self.model_revision != now.model_revision {
            changes.push(format!("model revision was {}, is now {}", self.model_revision, now.model_revision));
        }
        if self.data_sha256 != now.data_sha256 {
            changes.push(format!("data sha256 was {}, is now {}", self.data_sha256, now.data_sha256));
        }
        if self.sample_ids != now.sample_ids {
            let first = self
                .sample_ids
                .iter()
                .zip(&now.sample_ids)
                .position(|(a, b)| a != b)
                .unwrap_or(self.sample_ids.len().min(now.sample_ids.len()));
            changes.push(format!(
                "selected samples differ from position {first} ({} recorded, {} now)",
                self.sample_ids.len(),
                now.sample_ids.len()
            ));
        }
        for (what, was, is) in [("compute", &self.compute, &now.compute), ("runner build", &self.runner, &now.runner)] {
            if !was.is_empty() && was != is {
                changes.push(format!("{what} was {was}, is now {is}"));
            }
        }
        if changes.is_empty() {
            Ok(())
        } else {
            Err(IdentityMismatch { changes })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> RuntimeIdentity {
        RuntimeIdentity {
            model_revision: "b179c952".into(),
            data_sha256: "8244026f".into(),
            sample_ids: vec!["N0001".into(), "N0417".into()],
            compute: "float32 on cpu".into(),
            runner: "0.1.0 0123456789abcdef".into(),
        }
    }

    #[test]
    fn an_unchanged_identity_resumes() {
        assert_eq!(identity().check_resume(&identity()), Ok(()));
    }

    #[test]
    fn every_change_is_named() {
        let mut now = identity();
        now.model_revision = "0000".into();
        now.sample_ids[1] = "N0002".into();
        let err = identity().check_resume(&now).unwrap_err();
        assert_eq!(err.changes.len(), 2);
        let text = err.to_string();
        assert!(text.contains("model revision was b179c952, is now 0000"), "{text}");
        assert!(text.contains("from position 1"), "{text}");
        assert!(!text.contains("data sha256"), "{text}");
    }

    #[test]
    fn compute_and_build_changes_are_named_and_older_records_still_resume() {
        let mut now = identity();
        now.compute = "float16 on metal".into();
        now.runner = "0.1.0 fedcba9876543210".into();
        let text = identity().check_resume(&now).unwrap_err().to_string();
        assert!(
            text.contains("compute was float32 on cpu, is now float16 on metal")
                && text.contains("runner build was 0.1.0 0123456789abcdef"),
            "{text}"
        );
        let old = RuntimeIdentity { compute: String::new(), runner: String::new(), ..identity() };
        assert_eq!(old.check_resume(&now), Ok(()), "a record without them compares the rest");
    }
}
