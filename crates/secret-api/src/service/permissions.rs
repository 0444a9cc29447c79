//! What a caller may do with a secret it can see: the access decision for each action,
//! for views that show only the actions the caller is allowed (the web UI hides the rest).

use secret_access::{Action, Decision, decide};
use secret_core::SecretContext;
use secret_core::model::SecretMetadata;

use super::{Result, SecretService};

impl SecretService {
    /// The actions among `ViewMetadata`, `Read`, `Update`, `Delete` and `Grant` that the
    /// caller may perform on `meta`, decided exactly as the operations themselves decide
    /// (role, ownership and the secret's grants). Nothing is audited: no operation is
    /// performed, and the operation itself decides again.
    pub async fn allowed_actions(
        &self,
        meta: &SecretMetadata,
        ctx: &SecretContext,
    ) -> Result<Vec<Action>> {
        let snap = self.snapshot(&meta.id).await?;
        let now = self.now();
        Ok([
            Action::ViewMetadata,
            Action::Read,
            Action::Update,
            Action::Delete,
            Action::Grant,
        ]
        .into_iter()
        .filter(|a| {
            matches!(
                decide(&ctx.principal, *a, &snap.metadata, &snap.grants, now),
                Decision::Allow
            )
        })
        .collect())
    }
}
