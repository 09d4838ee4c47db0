//! Recorded episodes as MCAP files, which Foxglove, `ros2 bag` (with the
//! MCAP plugin) and the Python `mcap` reader open without murmur: every
//! message is CDR with its `ros2msg` schema inside the file.
//!
//! Channels (N robots, one message per step):
//! - `/robot_<i>/step`: `murmur_msgs/msg/RobotStep`: the robot's
//!   observation, mask, action, probabilities, the action's source and
//!   the answer's latency;
//! - `/team/step`: `murmur_msgs/msg/TeamStep`: the team reward, the
//!   critic's value, the episode's end flags;
//! - `/robot_<i>/pose`: `geometry_msgs/msg/PoseStamped` (frame `world`,
//!   metres), where the dataset has tracked poses.
//!
//! Log times are the episode's start (`started_unix_ns` in the episode's
//! metadata, else one second after the previous episode ended, from 0)
//! plus the step's `time_s`. MCAP metadata records hold the dataset header
//! (`murmur.dataset`) and each episode's metadata (`murmur.episode.<k>`).
//! A file is written beside its target and renamed over it when complete.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Seek, Write};
use std::path::{Path, PathBuf};

use mcap::records::{MessageHeader, Metadata};
use murmur_runtime::ros2::messages::{
    encode, Header, Pose, PoseStamped, RobotStep, RosMessage, TeamStep, Time, Vector3,
};
use murmur_train::dataset::reader::RecordedEpisode;
use murmur_train::dataset::schema::{DatasetHeader, Origin};
use murmur_train::dataset::DatasetReader;
use murmur_train::fsio;

/// Why an MCAP file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum McapError {
    /// The file could not be created, written or renamed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The MCAP writer failed.
    #[error("{}: MCAP: {source}", path.display())]
    Mcap {
        /// The file.
        path: PathBuf,
        /// Why.
        source: mcap::McapError,
    },
    /// The dataset cannot be read (the error names the file).
    #[error(transparent)]
    Dataset(murmur_train::Error),
    /// A message could not be encoded.
    #[error("{}: {source}", path.display())]
    Encode {
        /// The file.
        path: PathBuf,
        /// Why.
        source: murmur_runtime::ros2::Ros2Error,
    },
}

/// What a written file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct McapSummary {
    /// Episodes written.
    pub episodes: usize,
    /// Messages written.
    pub messages: u64,
}

/// The topic of robot `i`'s steps.
pub fn robot_topic(i: usize) -> String {
    format!("/robot_{i}/step")
}

/// The topic of robot `i`'s tracked poses.
pub fn pose_topic(i: usize) -> String {
    format!("/robot_{i}/pose")
}

/// The topic of the team's steps.
pub const TEAM_TOPIC: &str = "/team/step";

/// The word for an action-source code (as `source_name` carries it).
pub fn source_name(code: u8) -> &'static str {
    match code {
        c if c == Origin::Policy as u8 => "policy",
        c if c == Origin::Fallback as u8 => "fallback",
        c if c == Origin::Stale as u8 => "stale",
        c if c == Origin::Missed as u8 => "missed",
        c if c == Origin::Absent as u8 => "absent",
        _ => "unknown",
    }
}

/// Converts the dataset in `dir` (every episode, checked against its
/// manifest) into the MCAP file `out`.
pub fn dataset_to_mcap(dir: &Path, out: &Path) -> Result<McapSummary, McapError> {
    let reader = DatasetReader::open(dir).map_err(McapError::Dataset)?;
    let episodes = reader.episodes().map_err(McapError::Dataset)?;
    write_mcap(out, reader.header(), &episodes)
}

/// Writes `episodes` of a dataset with `header` to `path` (replacing it
/// only once the new file is complete).
pub fn write_mcap(path: &Path, header: &DatasetHeader, episodes: &[RecordedEpisode]) -> Result<McapSummary, McapError> {
    let tmp = fsio::temp_beside(path);
    let result = (|| {
        let file = File::create(&tmp).map_err(|source| McapError::Io { path: tmp.clone(), source })?;
        let mut out = BufWriter::new(file);
        let summary = write_to(&mut out, path, header, episodes)?;
        let file = out.into_inner().map_err(|e| McapError::Io { path: tmp.clone(), source: e.into_error() })?;
        file.sync_all().map_err(|source| McapError::Io { path: tmp.clone(), source })?;
        std::fs::rename(&tmp, path).map_err(|source| McapError::Io { path: path.into(), source })?;
        Ok(summary)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn write_to<W: Write + Seek>(
    out: W,
    path: &Path,
    header: &DatasetHeader,
    episodes: &[RecordedEpisode],
) -> Result<McapSummary, McapError> {
    let mcap_err = |source| McapError::Mcap { path: path.into(), source };
    let encode_err = |source| McapError::Encode { path: path.into(), source };
    let mut writer = mcap::Writer::new(out).map_err(mcap_err)?;
    let (n, o, a) = (header.n_agents, header.obs_dim, header.n_actions);

    let schema = |w: &mut mcap::Writer<W>, t: &'static murmur_runtime::ros2::types::MessageType| {
        w.add_schema(t.name, "ros2msg", t.msg_definition().as_bytes())
    };
    let robot_schema = schema(&mut writer, RobotStep::TYPE).map_err(mcap_err)?;
    let team_schema = schema(&mut writer, TeamStep::TYPE).map_err(mcap_err)?;
    let robot_channels: Vec<u16> = (0..n)
        .map(|i| writer.add_channel(robot_schema, &robot_topic(i), "cdr", &BTreeMap::new()))
        .collect::<Result<_, _>>()
        .map_err(mcap_err)?;
    let team_channel = writer.add_channel(team_schema, TEAM_TOPIC, "cdr", &BTreeMap::new()).map_err(mcap_err)?;
    let pose_channels: Vec<u16> = if episodes.iter().any(|e| e.pose.is_some()) {
        let pose_schema = schema(&mut writer, PoseStamped::TYPE).map_err(mcap_err)?;
        (0..n)
            .map(|i| writer.add_channel(pose_schema, &pose_topic(i), "cdr", &BTreeMap::new()))
            .collect::<Result<_, _>>()
            .map_err(mcap_err)?
    } else {
        Vec::new()
    };
    let header_json = serde_json::to_value(header).unwrap_or_default();
    let header_meta: BTreeMap<String, String> = header_json
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_string))).collect())
        .unwrap_or_default();
    writer.write_metadata(&Metadata { name: "murmur.dataset".into(), metadata: header_meta }).map_err(mcap_err)?;

    let mut messages = 0u64;
    let mut sequence = 0u32;
    let mut next_start_ns: i64 = 0;
    for e in episodes {
        let start_ns = e.metadata.get("started_unix_ns").and_then(|v| v.parse::<i64>().ok()).unwrap_or(next_start_ns);
        let steps = e.reward.len();
        let mut meta: BTreeMap<String, String> = e.metadata.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        meta.insert("file".into(), e.entry.file.clone());
        writer
            .write_metadata(&Metadata { name: format!("murmur.episode.{}", e.entry.episode), metadata: meta })
            .map_err(mcap_err)?;
        let mut end_ns = start_ns;
        for t in 0..steps {
            let time_ns = start_ns + (e.time_s[t] * 1e9).round() as i64;
            end_ns = end_ns.max(time_ns);
            let stamp = Header { stamp: Time::from_nanos(time_ns), frame_id: "world".into() };
            let mut put = |channel_id: u16, bytes: Vec<u8>| {
                sequence = sequence.wrapping_add(1);
                messages += 1;
                let log_time = time_ns.max(0) as u64;
                writer.write_to_known_channel(
                    &MessageHeader { channel_id, sequence, log_time, publish_time: log_time },
                    &bytes,
                )
            };
            for (i, &channel) in robot_channels.iter().enumerate() {
                let r = t * n + i;
                let source = e.action_source[r];
                let step = RobotStep {
                    header: stamp.clone(),
                    episode: e.entry.episode,
                    step: t as u32,
                    robot: i as u32,
                    observation: e.obs[r * o..(r + 1) * o].to_vec(),
                    action_mask: e.avail[r * a..(r + 1) * a].to_vec(),
                    action: e.actions[r],
                    probabilities: e.probs[r * a..(r + 1) * a].to_vec(),
                    source,
                    source_name: source_name(source).into(),
                    latency_ms: f64::from(e.answer_us[r]) / 1e3,
                };
                put(channel, encode(&step).map_err(encode_err)?).map_err(mcap_err)?;
            }
            let critic = e.critic_value.as_ref().map(|v| v[t]);
            let team = TeamStep {
                header: stamp.clone(),
                episode: e.entry.episode,
                step: t as u32,
                reward: e.reward[t],
                critic_value: critic.unwrap_or(0.0),
                has_critic_value: critic.is_some(),
                terminated: e.terminated[t] != 0,
                truncated: e.truncated[t] != 0,
            };
            put(team_channel, encode(&team).map_err(encode_err)?).map_err(mcap_err)?;
            if let Some(pose) = &e.pose {
                for (i, &channel) in pose_channels.iter().enumerate() {
                    let r = (t * n + i) * 2;
                    let position = Vector3 { x: f64::from(pose[r]), y: f64::from(pose[r + 1]), z: 0.0 };
                    let msg = PoseStamped { header: stamp.clone(), pose: Pose { position, ..Default::default() } };
                    put(channel, encode(&msg).map_err(encode_err)?).map_err(mcap_err)?;
                }
            }
        }
        next_start_ns = end_ns + 1_000_000_000;
    }
    writer.finish().map_err(mcap_err)?;
    Ok(McapSummary { episodes: episodes.len(), messages })
}
