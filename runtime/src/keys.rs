//! Every key expression of a swarm, in one place (docs/design.md, "Wire").
//! Transports other than raw Zenoh map these names onto their own topics.
//!
//! ```text
//! murmur/<swarm>/agent/<id>/obs   coordinator -> robot   ObservationMsg
//! murmur/<swarm>/agent/<id>/act   robot -> coordinator   ActionMsg
//! murmur/<swarm>/agent/<id>       liveliness token while the robot's agent runs
//! murmur/<swarm>/model            deploy -> robots       ModelMsg
//! murmur/<swarm>/critic/value     coordinator -> monitors CriticMsg
//! ```

/// `murmur/<swarm>/agent/`: every robot's keys start with it, its id next.
pub fn agent_prefix(swarm: &str) -> String {
    format!("murmur/{swarm}/agent/")
}

/// Robot `id`'s liveliness token, `murmur/<swarm>/agent/<id>`.
pub fn agent_token(swarm: &str, id: usize) -> String {
    format!("{}{id}", agent_prefix(swarm))
}

/// Every robot's liveliness token, `murmur/<swarm>/agent/*`.
pub fn agent_tokens(swarm: &str) -> String {
    format!("{}*", agent_prefix(swarm))
}

/// Where robot `id` receives observations, `murmur/<swarm>/agent/<id>/obs`.
pub fn observation(swarm: &str, id: usize) -> String {
    format!("{}/obs", agent_token(swarm, id))
}

/// Where robot `id` answers with actions, `murmur/<swarm>/agent/<id>/act`.
pub fn action(swarm: &str, id: usize) -> String {
    format!("{}/act", agent_token(swarm, id))
}

/// Every robot's observations, `murmur/<swarm>/agent/*/obs`.
pub fn observations(swarm: &str) -> String {
    format!("{}*/obs", agent_prefix(swarm))
}

/// Every robot's actions, `murmur/<swarm>/agent/*/act`.
pub fn actions(swarm: &str) -> String {
    format!("{}*/act", agent_prefix(swarm))
}

/// Every key of the swarm, `murmur/<swarm>/**`.
pub fn everything(swarm: &str) -> String {
    format!("murmur/{swarm}/**")
}

/// Where new models arrive, `murmur/<swarm>/model`.
pub fn model(swarm: &str) -> String {
    format!("murmur/{swarm}/model")
}

/// Where the server-side critic's readings go, `murmur/<swarm>/critic/value`.
pub fn critic_value(swarm: &str) -> String {
    format!("murmur/{swarm}/critic/value")
}

/// The robot id in a key under [`agent_prefix`] (`murmur/<swarm>/agent/<id>[/..]`):
/// `None` unless the next level is the id written as [`agent_token`]
/// writes it: decimal digits, no sign, no leading zero (`01` and `+1` are
/// not robot 1, so no key can alias another robot's). Allocates nothing:
/// the coordinator calls it on every answer.
pub fn agent_id(key: &str, swarm: &str) -> Option<usize> {
    let rest = key.strip_prefix("murmur/")?.strip_prefix(swarm)?.strip_prefix("/agent/")?;
    canonical_id(rest.split('/').next()?)
}

/// A robot id written canonically: decimal digits, no sign, no leading
/// zero (`01` and `+1` are not ids).
pub fn canonical_id(id: &str) -> Option<usize> {
    let canonical = !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) && (id == "0" || !id.starts_with('0'));
    canonical.then(|| id.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_documented_layout_and_ids_come_back_out() {
        assert_eq!(observation("lab", 3), "murmur/lab/agent/3/obs");
        assert_eq!(action("lab", 3), "murmur/lab/agent/3/act");
        assert_eq!(agent_token("lab", 3), "murmur/lab/agent/3");
        assert_eq!(
            (actions("lab"), agent_tokens("lab")),
            ("murmur/lab/agent/*/act".into(), "murmur/lab/agent/*".into())
        );
        assert_eq!((model("lab"), critic_value("lab")), ("murmur/lab/model".into(), "murmur/lab/critic/value".into()));
        assert_eq!(agent_id("murmur/s/agent/12/act", "s"), Some(12));
        assert_eq!(agent_id("murmur/s/agent/3", "s"), Some(3));
        assert_eq!(agent_id("murmur/s/agent/x/act", "s"), None);
        assert_eq!(agent_id("murmur/other/agent/1/act", "s"), None);
        assert_eq!(agent_id("murmur/s2/agent/1/act", "s"), None);
        assert_eq!(agent_id("murmur/s/agent/0/act", "s"), Some(0));
        for alias in ["01", "+1", "00", "1 ", " 1", "-0", "1e0", "", "99999999999999999999999"] {
            assert_eq!(agent_id(&format!("murmur/s/agent/{alias}/act"), "s"), None, "`{alias}`");
            assert_eq!(agent_id(&format!("murmur/s/agent/{alias}"), "s"), None, "`{alias}`");
        }
    }
}
