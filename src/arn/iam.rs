//! IAM role ARNs (`arn:aws:iam::ACCOUNT:role/PATH/NAME`) and the STS session ARNs that name a
//! role at run time (`arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION`), as CloudTrail records
//! them for the connector.

use super::{Arn, ArnError, ArnPart, Partition, Shape, typed_arn};

/// An IAM role. Policies name a role by this ARN, path included.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoleArn {
    arn: Arn,
}

typed_arn!(RoleArn);

impl RoleArn {
    const KIND: &'static str = "IAM role ARN";

    pub fn parse(text: &str) -> Result<RoleArn, ArnError> {
        let arn = Arn::parse_as(text, Self::KIND)?;
        if arn.service() == "sts" && arn.resource().starts_with("assumed-role/") {
            return Err(ArnError::invalid(
                text,
                Self::KIND,
                ArnPart::Service,
                "it names a session of the role (an STS assumed-role ARN), and policies name \
                 the role itself: `arn:PARTITION:iam::ACCOUNT:role/PATH/NAME`, which \
                 `aws iam get-role --role-name NAME --query Role.Arn` prints",
            ));
        }
        let arn = arn.expect(
            Self::KIND,
            Shape {
                service: "iam",
                regional: false,
                account: true,
            },
        )?;
        let invalid =
            |problem: String| ArnError::invalid(text, Self::KIND, ArnPart::Resource, problem);
        let resource = arn.resource();
        let Some(path_and_name) = resource.strip_prefix("role/") else {
            return Err(invalid(format!(
                "the resource `{resource}` is not a role (`role/NAME` or `role/PATH/NAME`)"
            )));
        };
        let (path, name) = match path_and_name.rsplit_once('/') {
            Some((path, name)) => (format!("/{path}/"), name),
            None => ("/".to_string(), path_and_name),
        };
        check_role_name(name).map_err(invalid)?;
        check_role_path(&path).map_err(invalid)?;
        Ok(RoleArn { arn })
    }

    /// Builds a role ARN from its parts; `path` is `/` for a role without one.
    pub fn from_parts(
        partition: Partition,
        account: &str,
        path: &str,
        name: &str,
    ) -> Result<RoleArn, ArnError> {
        let path = if path.starts_with('/') {
            path.to_string()
        } else {
            format!("/{path}")
        };
        let path = if path.ends_with('/') {
            path
        } else {
            format!("{path}/")
        };
        RoleArn::parse(&format!("arn:{partition}:iam::{account}:role{path}{name}"))
    }

    pub fn account(&self) -> &str {
        self.arn.account().expect("a role ARN has an account")
    }

    /// The role name, as `aws iam get-role --role-name` takes it.
    pub fn name(&self) -> &str {
        let resource = self.arn.resource();
        resource.rsplit_once('/').map_or(resource, |(_, name)| name)
    }

    /// The role's path: `/` for none, else `/a/b/`.
    pub fn path(&self) -> String {
        let path_and_name = &self.arn.resource()["role/".len()..];
        match path_and_name.rsplit_once('/') {
            Some((path, _)) => format!("/{path}/"),
            None => "/".to_string(),
        }
    }

    /// The account's root principal, `arn:PARTITION:iam::ACCOUNT:root`, which a key policy uses
    /// to let the account's IAM policies decide.
    pub fn account_root(&self) -> String {
        format!("arn:{}:iam::{}:root", self.partition(), self.account())
    }
}

/// A session of a role, as STS and CloudTrail name the caller.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AssumedRoleArn {
    arn: Arn,
}

typed_arn!(AssumedRoleArn);

impl AssumedRoleArn {
    const KIND: &'static str = "STS assumed-role ARN";

    pub fn parse(text: &str) -> Result<AssumedRoleArn, ArnError> {
        let arn = Arn::parse_as(text, Self::KIND)?.expect(
            Self::KIND,
            Shape {
                service: "sts",
                regional: false,
                account: true,
            },
        )?;
        let invalid =
            |problem: String| ArnError::invalid(text, Self::KIND, ArnPart::Resource, problem);
        let resource = arn.resource();
        let parts: Vec<&str> = resource.split('/').collect();
        let ["assumed-role", role, session] = parts[..] else {
            return Err(invalid(format!(
                "the resource `{resource}` is not `assumed-role/ROLE_NAME/SESSION_NAME`"
            )));
        };
        check_role_name(role).map_err(invalid)?;
        check_session_name(session).map_err(invalid)?;
        Ok(AssumedRoleArn { arn })
    }

    pub fn account(&self) -> &str {
        self.arn
            .account()
            .expect("an assumed-role ARN has an account")
    }

    pub fn role_name(&self) -> &str {
        self.arn.resource().split('/').nth(1).expect("checked")
    }

    pub fn session_name(&self) -> &str {
        self.arn.resource().split('/').nth(2).expect("checked")
    }

    /// The ARN of the role this session belongs to. A session ARN carries the role's name but
    /// not its path, so the path must come from elsewhere (`aws iam get-role`): without it this
    /// is an error that says so, never a guess.
    pub fn role_arn(&self, path: Option<&str>) -> Result<RoleArn, ArnError> {
        let Some(path) = path else {
            return Err(ArnError::other(
                self.as_str(),
                ArnPart::Resource,
                format!(
                    "cannot tell the role ARN from the session ARN `{}`: it carries the role's \
                     name `{}` but not its path; `aws iam get-role --role-name {} --query Role.Arn` \
                     prints the role ARN",
                    self.as_str(),
                    self.role_name(),
                    self.role_name()
                ),
            ));
        };
        RoleArn::from_parts(self.partition(), self.account(), path, self.role_name())
    }
}

fn check_role_name(name: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c);
    if name.is_empty() || name.len() > 64 || !name.chars().all(allowed) {
        return Err(format!(
            "the role name `{name}` is not 1 to 64 letters, digits or `+=,.@_-`"
        ));
    }
    Ok(())
}

/// `/` alone, or `/` … `/` of printable ASCII without spaces, at most 512 characters.
fn check_role_path(path: &str) -> Result<(), String> {
    let printable = path.bytes().all(|b| (0x21..=0x7e).contains(&b));
    if path.len() > 512 || !printable || path.contains("//") {
        return Err(format!(
            "the role path `{path}` is not `/` or `/SEGMENT/…/` of printable characters \
             (at most 512)"
        ));
    }
    Ok(())
}

fn check_session_name(name: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c);
    if name.len() < 2 || name.len() > 64 || !name.chars().all(allowed) {
        return Err(format!(
            "the session name `{name}` is not 2 to 64 letters, digits or `+=,.@_-`"
        ));
    }
    Ok(())
}
