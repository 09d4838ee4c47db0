//! Who may say what in a private swarm: Zenoh access control generated
//! from the team, so that a member's certificate grants exactly its role.
//!
//! Every member of a private swarm runs Zenoh's access control with these
//! rules (docs/security.md). A subject is a certificate's common name;
//! for each subject the rules say what it may send (checked by whoever
//! receives it: Zenoh's *ingress* flow) and what it may receive (checked by
//! whoever would send it: *egress*). So an honest process enforces the
//! rules on its own links, whatever the other end runs:
//!
//! | member        | may send                                                   | may receive                          |
//! |---------------|------------------------------------------------------------|--------------------------------------|
//! | `coordinator` | everything under `murmur/*/` but models                    | everything under `murmur/*/`         |
//! | `robot-N`     | its answers, its liveliness token, subscriptions to its observations and to models | its observations, models, the coordinator's and operators' interest in answers and tokens |
//! | `operator`    | models, interest in tokens and critic values               | tokens, critic values, robots' model subscriptions |
//!
//! Anything else (another robot's keys, queries, queryables, other key
//! spaces, a certificate with another name) is refused. Robot N is always
//! listed by its own id; only an operator's process, which does not know
//! the team, admits robots by a wildcard (any robot of the swarm may
//! subscribe to models and announce itself there).

use serde_json::{json, Value};

use crate::keys;

/// A member of a private swarm, by role. Its certificate's common name
/// ([`Member::common_name`]) is what access control knows it by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Member {
    /// The process that runs episodes (`murmur hil`).
    Coordinator,
    /// Robot `N`'s agent (`murmur agent --id N`).
    Robot(usize),
    /// Someone who may deploy models (`murmur deploy`).
    Operator,
}

impl Member {
    /// Parses a member's name: `coordinator`, `robot-N` (N written as
    /// `keys::agent_id` accepts it: no sign, no leading zero) or `operator`
    /// / `operator-NAME` (NAME of letters, digits, `-` and `_`; every
    /// operator has the same rights). `None` for anything else.
    pub fn parse(name: &str) -> Option<Member> {
        if name == "coordinator" {
            return Some(Member::Coordinator);
        }
        if name == "operator"
            || name
                .strip_prefix("operator-")
                .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        {
            return Some(Member::Operator);
        }
        keys::canonical_id(name.strip_prefix("robot-")?).map(Member::Robot)
    }

    /// The common name of the member's certificate: `coordinator`,
    /// `robot-N` or `operator` (all operators share it).
    pub fn common_name(&self) -> String {
        match self {
            Member::Coordinator => "coordinator".to_string(),
            Member::Robot(id) => format!("robot-{id}"),
            Member::Operator => "operator".to_string(),
        }
    }
}

/// The robots a process's rules name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Robots {
    /// Robots `0..n`, each admitted to its own keys only (the coordinator,
    /// which knows its team).
    Team(usize),
    /// One robot (an agent, which needs no other robot).
    One(usize),
    /// Any robot of the swarm, to robots' common keys only (an operator).
    Any,
}

/// Zenoh's `access_control` section (JSON) for a member's process: the
/// coordinator and operators always, and `robots`.
pub fn access_control(robots: Robots) -> String {
    let mut rules = Vec::new();
    let mut subjects = Vec::new();
    let mut policies = Vec::new();
    let mut member = |id: String, common_name: Option<String>, sends: Vec<Grant>, receives: Vec<Grant>| {
        let mut rule_ids = Vec::new();
        for (flow, grants) in [("ingress", sends), ("egress", receives)] {
            for (i, grant) in grants.into_iter().enumerate() {
                let rule = format!("{id}-{flow}-{i}");
                rules.push(grant.rule(&rule, flow));
                rule_ids.push(rule);
            }
        }
        // A subject without a common name matches any certificate of the
        // swarm's authority (the only ones mutual TLS lets in).
        subjects.push(match common_name {
            Some(cn) => json!({ "id": id, "cert_common_names": [cn] }),
            None => json!({ "id": id }),
        });
        policies.push(json!({ "rules": rule_ids, "subjects": [id] }));
    };
    let everything = keys::everything("*");
    member(
        "coordinator".into(),
        Some(Member::Coordinator.common_name()),
        vec![Grant::allow(ALL, &everything), Grant::deny(&["put", "delete"], &keys::model("*"))],
        vec![Grant::allow(ALL, &everything)],
    );
    member(
        "operator".into(),
        Some(Member::Operator.common_name()),
        vec![
            Grant::allow(&["put"], &keys::model("*")),
            Grant::allow(&["declare_subscriber"], &keys::critic_value("*")),
            Grant::allow(&["declare_liveliness_subscriber", "liveliness_query"], &keys::agent_tokens("*")),
        ],
        vec![
            Grant::allow(&["put"], &keys::critic_value("*")),
            Grant::allow(&["liveliness_token"], &keys::agent_tokens("*")),
            Grant::allow(&["declare_subscriber"], &keys::model("*")),
        ],
    );
    let ids: Vec<Option<usize>> = match robots {
        Robots::Team(n) => (0..n).map(Some).collect(),
        Robots::One(id) => vec![Some(id)],
        Robots::Any => vec![None],
    };
    for id in ids {
        let (token, obs, act) = match id {
            Some(id) => (keys::agent_token("*", id), keys::observation("*", id), keys::action("*", id)),
            None => (keys::agent_tokens("*"), keys::observations("*"), keys::actions("*")),
        };
        let (name, cn) = match id {
            Some(id) => (format!("robot-{id}"), Some(Member::Robot(id).common_name())),
            None => ("robots".to_string(), None),
        };
        member(
            name,
            cn,
            vec![
                Grant::allow(&["put"], &act),
                Grant::allow(&["liveliness_token"], &token),
                Grant::allow(&["declare_subscriber"], &obs),
                Grant::allow(&["declare_subscriber"], &keys::model("*")),
            ],
            vec![
                Grant::allow(&["put"], &obs),
                Grant::allow(&["put"], &keys::model("*")),
                Grant::allow(&["declare_subscriber"], &keys::actions("*")),
                Grant::allow(&["declare_liveliness_subscriber", "liveliness_query"], &keys::agent_tokens("*")),
            ],
        );
    }
    json!({
        "enabled": true,
        "default_permission": "deny",
        "rules": rules,
        "subjects": subjects,
        "policies": policies,
    })
    .to_string()
}

/// Every message kind of Zenoh's access control.
const ALL: &[&str] = &[
    "put",
    "delete",
    "declare_subscriber",
    "query",
    "declare_queryable",
    "reply",
    "liveliness_token",
    "declare_liveliness_subscriber",
    "liveliness_query",
];

/// Message kinds allowed or denied on a key expression (including every
/// key it matches).
struct Grant {
    allow: bool,
    messages: &'static [&'static str],
    key_expr: String,
}

impl Grant {
    fn allow(messages: &'static [&'static str], key_expr: &str) -> Grant {
        Grant { allow: true, messages, key_expr: key_expr.to_string() }
    }

    fn deny(messages: &'static [&'static str], key_expr: &str) -> Grant {
        Grant { allow: false, messages, key_expr: key_expr.to_string() }
    }

    fn rule(&self, id: &str, flow: &str) -> Value {
        json!({
            "id": id,
            "messages": self.messages,
            "flows": [flow],
            "permission": if self.allow { "allow" } else { "deny" },
            "key_exprs": [self.key_expr],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_names_are_canonical_and_operators_share_one_role() {
        assert_eq!(Member::parse("coordinator"), Some(Member::Coordinator));
        assert_eq!(Member::parse("robot-0"), Some(Member::Robot(0)));
        assert_eq!(Member::parse("robot-12"), Some(Member::Robot(12)));
        assert_eq!(Member::parse("operator-ana"), Some(Member::Operator));
        assert_eq!(Member::parse("operator-ana").map(|m| m.common_name()), Some("operator".into()));
        for bad in ["robot-01", "robot-+1", "robot-", "robot", "admin", "operator-", "operator-a/b", ""] {
            assert_eq!(Member::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_rules_are_a_config_zenoh_accepts_and_name_each_robot_of_the_team() {
        let acl = access_control(Robots::Team(3));
        let mut config = zenoh::Config::default();
        config.insert_json5("access_control", &acl).unwrap();
        for id in 0..3 {
            assert!(acl.contains(&format!(r#""cert_common_names":["robot-{id}"]"#)), "{acl}");
            assert!(acl.contains(&format!(r#""key_exprs":["murmur/*/agent/{id}/act"]"#)), "{acl}");
        }
        assert!(!acl.contains("robot-3"), "{acl}");
        assert!(!access_control(Robots::One(2)).contains("robot-0"));
        assert!(access_control(Robots::Any).contains(r#""key_exprs":["murmur/*/agent/*/act"]"#));
    }
}
