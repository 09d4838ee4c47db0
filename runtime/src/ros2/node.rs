//! A ROS 2 node on a Zenoh session, as rmw_zenoh makes one: a liveliness
//! token for the node, one per publisher and subscription, samples under
//! the topic's key with CDR payloads and the 33-byte attachment.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};
use zenoh::liveliness::LivelinessToken;
use zenoh::pubsub::{Publisher, Subscriber};
use zenoh::sample::Sample;
use zenoh::{Session, Wait};

use super::attachment::{Attachment, GID_BYTES};
use super::graph::{endpoint_token, node_token, topic_key, Distro, EntityKind, NodeName};
use super::messages::{decode, encode, RosMessage};
use super::Ros2Error;

fn zenoh_err(what: &'static str) -> impl Fn(zenoh::Error) -> Ros2Error {
    move |e| Ros2Error::Zenoh(format!("{what}: {e}"))
}

/// A node: its name, its token, and the ids its endpoints take.
pub struct Ros2Node {
    session: Session,
    name: NodeName,
    distro: Distro,
    zenoh_id: String,
    node_id: u32,
    next_entity: AtomicU32,
    _token: LivelinessToken,
}

impl Ros2Node {
    /// Declares node `name` on `session` (visible to `ros2 node list`).
    pub fn new(session: &Session, name: NodeName, distro: Distro) -> Result<Self, Ros2Error> {
        let zenoh_id = session.zid().to_string();
        let node_id = 0;
        let token = session
            .liveliness()
            .declare_token(node_token(&zenoh_id, node_id, &name))
            .wait()
            .map_err(zenoh_err("declare the node's liveliness token"))?;
        Ok(Ros2Node {
            session: session.clone(),
            name,
            distro,
            zenoh_id,
            node_id,
            next_entity: AtomicU32::new(node_id + 1),
            _token: token,
        })
    }

    fn endpoint_token(
        &self,
        kind: EntityKind,
        topic: &str,
        t: &'static super::types::MessageType,
        depth: u32,
    ) -> String {
        let entity = self.next_entity.fetch_add(1, Ordering::Relaxed);
        endpoint_token(&self.zenoh_id, self.node_id, entity, kind, &self.name, topic, t, self.distro, depth)
    }

    /// A publisher of `M` on the fully qualified `topic` (keep-last `depth`).
    pub fn publisher<M: RosMessage>(&self, topic: &str, depth: u32) -> Result<RosPublisher<M>, Ros2Error> {
        let key = topic_key(self.name.domain, topic, M::TYPE, self.distro);
        let token_key = self.endpoint_token(EntityKind::Publisher, topic, M::TYPE, depth);
        // The GID only has to be unique and stable per publisher; rmw_zenoh
        // hashes the token too (with XXH3), so ours differs in value only.
        let digest = Sha256::digest(token_key.as_bytes());
        let mut gid = [0u8; GID_BYTES];
        gid.copy_from_slice(&digest[..GID_BYTES]);
        let publisher =
            self.session.declare_publisher(key.clone()).wait().map_err(zenoh_err("declare a ROS 2 publisher"))?;
        let token = self
            .session
            .liveliness()
            .declare_token(token_key)
            .wait()
            .map_err(zenoh_err("declare a publisher token"))?;
        Ok(RosPublisher { publisher, key, gid, sequence: 0, _token: token, _message: PhantomData })
    }

    /// A subscription to `M` on the fully qualified `topic`: `on_message`
    /// gets each well-formed message with its attachment; `on_refused`
    /// gets why each other sample was refused (never applied).
    pub fn subscribe<M: RosMessage + Send + 'static>(
        &self,
        topic: &str,
        on_message: impl Fn(M, Attachment) + Send + Sync + 'static,
        on_refused: impl Fn(Ros2Error) + Send + Sync + 'static,
    ) -> Result<RosSubscription, Ros2Error> {
        let key = topic_key(self.name.domain, topic, M::TYPE, self.distro);
        let token_key = self.endpoint_token(EntityKind::Subscription, topic, M::TYPE, 10);
        let subscriber = self
            .session
            .declare_subscriber(key.clone())
            .callback(move |sample| match read_sample::<M>(&sample) {
                Ok((msg, attachment)) => on_message(msg, attachment),
                Err(e) => on_refused(e),
            })
            .wait()
            .map_err(zenoh_err("declare a ROS 2 subscription"))?;
        let token = self
            .session
            .liveliness()
            .declare_token(token_key)
            .wait()
            .map_err(zenoh_err("declare a subscription token"))?;
        Ok(RosSubscription { _subscriber: subscriber, key, _token: token })
    }
}

/// A Zenoh session to a ROS 2 network: a peer that connects to
/// `endpoints` (rmw_zenoh's router, or the robots) and does not scout, so
/// it joins exactly the network it is told to.
pub fn open_session(endpoints: &[String]) -> Result<Session, Ros2Error> {
    let mut config = zenoh::Config::default();
    let set = |config: &mut zenoh::Config, key: &str, value: String| {
        config.insert_json5(key, &value).map_err(|e| Ros2Error::Zenoh(format!("config {key}: {e}")))
    };
    set(&mut config, "mode", "\"peer\"".into())?;
    let list = endpoints.iter().map(|e| format!("{e:?}")).collect::<Vec<_>>().join(",");
    set(&mut config, "connect/endpoints", format!("[{list}]"))?;
    set(&mut config, "scouting/multicast/enabled", "false".into())?;
    zenoh::open(config).wait().map_err(zenoh_err("open a session to the ROS 2 network"))
}

/// Reads one sample as rmw_zenoh would: an attachment, then the CDR payload.
pub fn read_sample<M: RosMessage>(sample: &Sample) -> Result<(M, Attachment), Ros2Error> {
    let attachment = sample
        .attachment()
        .ok_or_else(|| Ros2Error::Attachment("none (rmw_zenoh drops such samples)".into()))
        .and_then(Attachment::decode)?;
    let msg = decode::<M>(&sample.payload().to_bytes())?;
    Ok((msg, attachment))
}

/// Nanoseconds since the Unix epoch, now.
pub fn now_ns() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as i64).unwrap_or(0)
}

/// A publisher of one message type on one topic.
pub struct RosPublisher<M: RosMessage> {
    publisher: Publisher<'static>,
    key: String,
    gid: [u8; GID_BYTES],
    sequence: i64,
    _token: LivelinessToken,
    _message: PhantomData<fn(&M)>,
}

impl<M: RosMessage> RosPublisher<M> {
    /// The Zenoh key its samples go to.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Publishes `msg` with the next sequence number.
    pub fn publish(&mut self, msg: &M) -> Result<(), Ros2Error> {
        self.sequence += 1;
        let attachment =
            Attachment { sequence_number: self.sequence, source_timestamp_ns: now_ns(), source_gid: self.gid };
        self.publisher
            .put(encode(msg)?)
            .attachment(attachment.encode())
            .wait()
            .map_err(zenoh_err("publish a ROS 2 message"))
    }
}

/// A live subscription (dropping it undeclares it).
pub struct RosSubscription {
    _subscriber: Subscriber<()>,
    key: String,
    _token: LivelinessToken,
}

impl RosSubscription {
    /// The Zenoh key it listens on.
    pub fn key(&self) -> &str {
        &self.key
    }
}
