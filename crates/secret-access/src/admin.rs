//! The administrative rules of part 2 §12.2: import, export, audit log access and vault
//! configuration. Only super admins and org admins have them; no membership or grant does.

use secret_core::{OrgRole, Principal, VaultScope};

/// Whether `principal` administers `organization_id` or is a super admin. `None` (no
/// organization, i.e. platform-wide) is for super admins only.
fn admin_of(principal: &Principal, organization_id: Option<&str>) -> bool {
    principal.super_admin || organization_id.is_some_and(|org| principal.is_org_admin(org))
}

/// Whether `principal` may import secrets into `organization_id` (`None`: platform-wide).
pub fn can_import(principal: &Principal, organization_id: Option<&str>) -> bool {
    admin_of(principal, organization_id)
}

/// Whether `principal` may export secrets of `organization_id` (`None`: platform-wide).
pub fn can_export(principal: &Principal, organization_id: Option<&str>) -> bool {
    admin_of(principal, organization_id)
}

/// Whether `principal` may read audit logs of `organization_id` (`None`: all organizations).
pub fn can_read_audit(principal: &Principal, organization_id: Option<&str>) -> bool {
    admin_of(principal, organization_id)
}

/// Whether `principal` may create, change or delete a vault configuration of `scope`.
pub fn can_configure_vault(
    principal: &Principal,
    scope: VaultScope,
    organization_id: Option<&str>,
) -> bool {
    match scope {
        VaultScope::Global => principal.super_admin,
        VaultScope::Organization => admin_of(principal, organization_id),
    }
}

/// The organizations `principal` administers (not counting super-admin rights).
pub fn administered_orgs(principal: &Principal) -> Vec<String> {
    principal
        .orgs
        .iter()
        .filter(|(_, role)| **role == OrgRole::Admin)
        .map(|(org, _)| org.clone())
        .collect()
}

/// The organizations whose audit logs `principal` may read: `None` for no restriction (a
/// super admin), otherwise the orgs it administers (empty: none at all).
pub fn audit_org_filter(principal: &Principal) -> Option<Vec<String>> {
    (!principal.super_admin).then(|| administered_orgs(principal))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org_admin() -> Principal {
        Principal::user("alice")
            .with_org("org-1", OrgRole::Admin)
            .with_org("org-3", OrgRole::Member)
    }

    #[test]
    fn import_and_export_are_for_super_admins_and_admins_of_the_org() {
        let root = Principal::user("root").as_super_admin();
        let member = Principal::user("bob").with_org("org-1", OrgRole::Member);
        for check in [can_import, can_export] {
            assert!(check(&root, None));
            assert!(check(&root, Some("org-9")));
            assert!(check(&org_admin(), Some("org-1")));
            assert!(!check(&org_admin(), Some("org-2")));
            assert!(!check(&org_admin(), Some("org-3")));
            assert!(!check(&org_admin(), None));
            assert!(!check(&member, Some("org-1")));
        }
    }

    #[test]
    fn audit_is_platform_wide_for_super_admins_and_per_org_for_org_admins() {
        let root = Principal::user("root").as_super_admin();
        assert!(can_read_audit(&root, None));
        assert!(can_read_audit(&root, Some("org-2")));
        assert!(can_read_audit(&org_admin(), Some("org-1")));
        assert!(!can_read_audit(&org_admin(), Some("org-3")));
        assert!(!can_read_audit(&org_admin(), None));
        assert_eq!(audit_org_filter(&root), None);
        assert_eq!(
            audit_org_filter(&org_admin()),
            Some(vec!["org-1".to_owned()])
        );
        assert_eq!(
            audit_org_filter(&Principal::user("bob").with_org("org-1", OrgRole::Member)),
            Some(vec![])
        );
    }

    #[test]
    fn global_vaults_are_for_super_admins_org_vaults_also_for_that_orgs_admins() {
        let root = Principal::user("root").as_super_admin();
        assert!(can_configure_vault(&root, VaultScope::Global, None));
        assert!(can_configure_vault(
            &root,
            VaultScope::Organization,
            Some("org-2")
        ));
        assert!(!can_configure_vault(&org_admin(), VaultScope::Global, None));
        assert!(!can_configure_vault(
            &org_admin(),
            VaultScope::Global,
            Some("org-1")
        ));
        assert!(can_configure_vault(
            &org_admin(),
            VaultScope::Organization,
            Some("org-1")
        ));
        assert!(!can_configure_vault(
            &org_admin(),
            VaultScope::Organization,
            Some("org-2")
        ));
        assert!(!can_configure_vault(
            &org_admin(),
            VaultScope::Organization,
            None
        ));
    }
}
