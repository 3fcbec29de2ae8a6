//! Message queues inside worker processes (manual 1.15.7): `POST /tasks` (body) enqueues a task;
//! a consumer in the worker processes uppercases it; `GET /done` answers the JSON array of
//! processed bodies.
//!
//! ```text
//! cargo run --release --example queue_worker -- start                          # AMQP (RabbitMQ)
//! QUEUE_BACKEND=stomp cargo run --release --example queue_worker -- start      # STOMP 1.2
//! curl -d 'hello' http://127.0.0.1:2365/tasks     # 202 {"queued":true}
//! curl http://127.0.0.1:2365/done                 # ["HELLO"]
//! ```
//!
//! Settings: `QUEUE_BACKEND` — `amqp` (default) or `stomp`; `AMQP_URL` (default
//! `amqp://guest:guest@127.0.0.1:5672/%2f`); `STOMP_ADDR` (default `127.0.0.1:61613`) with
//! `STOMP_LOGIN` / `STOMP_PASSCODE` (default `guest` / `guest`) and `STOMP_VHOST` (default `/`);
//! `QUEUE_NAME` (default `workerman.tasks`).
//!
//! The broker holds everything: tasks go to the durable queue `QUEUE_NAME` (each task reaches one
//! consumer; every worker process consumes, one task at a time); each processed body is
//! broadcast — AMQP: fanout exchange `<QUEUE_NAME>.done`, STOMP: `/topic/<QUEUE_NAME>.done` — to
//! every process, which appends it to its in-memory list. So `GET /done` answers the same list
//! from any process (a process started later knows the results from its start on).
//!
//! Each process connects in `on_worker_start` and reconnects by itself (every 500 ms) when the
//! broker goes away; meanwhile `POST /tasks` answers 503 and the log says why. `POST /tasks`
//! answers once the broker has the task (STOMP: its `RECEIPT`; AMQP: the reply to a passive
//! `queue.declare` sent after the publish on the same channel).
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use amqprs::BasicProperties;
use amqprs::channel::{
    BasicAckArguments, BasicConsumeArguments, BasicPublishArguments, BasicQosArguments, Channel,
    ExchangeDeclareArguments, QueueBindArguments, QueueDeclareArguments,
};
use amqprs::connection::{Connection, OpenConnectionArguments};
use workerman::Worker;
use workerman::protocol::Http;
use workerman::protocol::http::{Method, Response};
use workerman_recipes::stomp::{self, Ack};
use workerman_recipes::{
    AmqpAddress, amqp_address, bad_setting, env_or, json, json_text, not_found, redact, text, unavailable,
};

/// How long a `POST /tasks` waits for the broker.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone)]
enum Backend {
    Amqp {
        url: String,
        addr: AmqpAddress,
    },
    Stomp {
        addr: String,
        login: (String, String),
        vhost: String,
    },
}

impl Backend {
    /// "AMQP at amqp://guest@host:port/%2f" / "STOMP at host:port", as the log names it.
    fn what(&self) -> &'static str {
        match self {
            Backend::Amqp { .. } => "AMQP",
            Backend::Stomp { .. } => "STOMP",
        }
    }

    fn shown(&self) -> String {
        match self {
            Backend::Amqp { url, .. } => redact(url),
            Backend::Stomp { addr, .. } => addr.clone(),
        }
    }
}

/// The current connection of this process, for `POST /tasks`.
#[derive(Clone)]
enum Link {
    /// A channel for publishing (the consumer has its own); one POST at a time uses it.
    Amqp(Rc<tokio::sync::Mutex<Channel>>),
    Stomp(Rc<stomp::Client>),
}

/// This process's state.
#[derive(Default)]
struct Local {
    link: RefCell<Option<Link>>,
    done: RefCell<Vec<String>>,
}

fn main() -> workerman::Result<()> {
    let queue = env_or("QUEUE_NAME", "workerman.tasks");
    let backend = match env_or("QUEUE_BACKEND", "amqp").as_str() {
        "amqp" => {
            let url = env_or("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f");
            let addr = amqp_address(&url).unwrap_or_else(|e| bad_setting("AMQP_URL", e));
            Backend::Amqp { url, addr }
        }
        "stomp" => Backend::Stomp {
            addr: env_or("STOMP_ADDR", "127.0.0.1:61613"),
            login: (env_or("STOMP_LOGIN", "guest"), env_or("STOMP_PASSCODE", "guest")),
            vhost: env_or("STOMP_VHOST", "/"),
        },
        other => bad_setting("QUEUE_BACKEND", format!("{other:?} is neither amqp nor stomp")),
    };
    let worker = Worker::<Http>::new("http://0.0.0.0:2365")?;
    worker.set_name("queue_worker");
    worker.set_count(2);
    let local = Rc::new(Local::default());

    let (state, b, q) = (local.clone(), backend.clone(), queue.clone());
    worker.on_worker_start(move |_| {
        let (state, backend, queue) = (state.clone(), b.clone(), q.clone());
        workerman::spawn(async move {
            loop {
                let ended = match &backend {
                    Backend::Amqp { addr, .. } => amqp_session(addr, &queue, &state).await,
                    Backend::Stomp { addr, login, vhost } => stomp_session(addr, login, vhost, &queue, &state).await,
                };
                state.link.borrow_mut().take();
                workerman::log!(
                    "{} at {} unavailable: {ended}; reconnecting",
                    backend.what(),
                    backend.shown()
                );
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
    });

    worker.on_message(move |conn, req| match (req.method(), req.path()) {
        (Method::Get, "/") => {
            conn.send(text(200, format!("queue_worker pid {}", std::process::id())));
        }
        (Method::Get, "/done") => {
            let done = serde_json::Value::from(local.done.borrow().clone());
            conn.send(json_text(200, done.to_string()));
        }
        (Method::Post, "/tasks") => {
            let Ok(body) = String::from_utf8(req.body().to_vec()) else {
                conn.send(json(
                    400,
                    &serde_json::json!({ "error": "the body must be UTF-8 text" }),
                ));
                return;
            };
            if body.is_empty() {
                conn.send(json(400, &serde_json::json!({ "error": "empty body" })));
                return;
            }
            let link = local.link.borrow().clone();
            let (conn, backend, queue) = (conn.clone(), backend.clone(), queue.clone());
            workerman::spawn(async move {
                conn.send(enqueue(link, &backend, &queue, body).await);
            });
        }
        _ => {
            conn.send(not_found());
        }
    });
    Worker::run_all()
}

/// Publishes one task; 202 once the broker has it, 503 otherwise.
async fn enqueue(link: Option<Link>, backend: &Backend, queue: &str, body: String) -> Response {
    let result = tokio::time::timeout(PUBLISH_TIMEOUT, async {
        match link {
            None => Err("not connected".to_string()),
            Some(Link::Stomp(client)) => client
                .send(&format!("/queue/{queue}"), body.as_bytes(), &[("persistent", "true")])
                .await
                .map_err(|e| e.to_string()),
            Some(Link::Amqp(channel)) => {
                let channel = channel.lock().await;
                let props = BasicProperties::default().with_persistence(true).finish();
                channel
                    .basic_publish(props, body.into_bytes(), BasicPublishArguments::new("", queue))
                    .await
                    .map_err(|e| e.to_string())?;
                // The broker answers a channel's methods in order: this reply means it has the task.
                let passive = QueueDeclareArguments::new(queue).passive(true).finish();
                channel
                    .queue_declare(passive)
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string())
            }
        }
    })
    .await
    .unwrap_or_else(|_| Err(format!("no answer within {PUBLISH_TIMEOUT:?}")));
    match result {
        Ok(()) => json(202, &serde_json::json!({ "queued": true })),
        Err(e) => unavailable(backend.what(), &backend.shown(), format_args!("enqueue: {e}")),
    }
}

/// One AMQP connection's life: declare, consume tasks and results, until it fails. Returns why.
async fn amqp_session(addr: &AmqpAddress, queue: &str, state: &Local) -> String {
    let b = &addr.broker;
    let (user, password) = b.login.clone().unwrap_or_default();
    let mut args = OpenConnectionArguments::new(&b.host, b.port, &user, &password);
    args.virtual_host(&addr.vhost)
        .connection_name(&format!("queue_worker pid {}", std::process::id()));
    let connection = match tokio::time::timeout(PUBLISH_TIMEOUT, Connection::open(&args)).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => return format!("connect: {e}"),
        Err(_) => return "connect: timed out".into(),
    };
    let why = amqp_consume(&connection, queue, state).await;
    // Closing waits for the broker: bounded, since it may be gone.
    let _ = tokio::time::timeout(Duration::from_secs(1), connection.close()).await;
    why
}

async fn amqp_consume(connection: &Connection, queue: &str, state: &Local) -> String {
    let done_exchange = format!("{queue}.done");
    let setup = async {
        let consume = connection.open_channel(None).await?;
        let publish = connection.open_channel(None).await?;
        consume
            .queue_declare(QueueDeclareArguments::durable_client_named(queue))
            .await?;
        let mut fanout = ExchangeDeclareArguments::new(&done_exchange, "fanout");
        fanout.auto_delete = true;
        consume.exchange_declare(fanout).await?;
        // This process's own results queue (exclusive: it goes when the connection goes).
        let (mine, _, _) = consume
            .queue_declare(QueueDeclareArguments::exclusive_server_named())
            .await?
            .unwrap_or_default();
        consume
            .queue_bind(QueueBindArguments::new(&mine, &done_exchange, ""))
            .await?;
        // One unacknowledged task per process at a time: the others go to idle consumers.
        consume.basic_qos(BasicQosArguments::new(0, 1, false)).await?;
        let (_, tasks) = consume
            .basic_consume_rx(BasicConsumeArguments::new(queue, "").manual_ack(true).finish())
            .await?;
        let (_, results) = consume
            .basic_consume_rx(BasicConsumeArguments::new(&mine, "").manual_ack(false).finish())
            .await?;
        Ok::<_, amqprs::error::Error>((consume, publish, tasks, results))
    };
    let (consume, publish, mut tasks, mut results) = match setup.await {
        Ok(v) => v,
        Err(e) => return format!("setup: {e}"),
    };
    *state.link.borrow_mut() = Some(Link::Amqp(Rc::new(tokio::sync::Mutex::new(publish))));
    workerman::log!("queue_worker: consuming {queue} over AMQP");
    let lost = connection.listen_network_io_failure();
    tokio::pin!(lost);
    loop {
        tokio::select! {
            _ = &mut lost => return "connection lost".into(),
            task = tasks.recv() => {
                let Some(task) = task else { return "the task consumer ended".into() };
                let body = String::from_utf8_lossy(task.content.as_deref().unwrap_or_default()).to_uppercase();
                let tag = task.deliver.map(|d| d.delivery_tag()).unwrap_or_default();
                let props = BasicProperties::default();
                if let Err(e) = consume
                    .basic_publish(props, body.into_bytes(), BasicPublishArguments::new(&done_exchange, ""))
                    .await
                {
                    return format!("publish a result: {e}");
                }
                // Acknowledged after the result is out: a crash in between redelivers the task.
                if let Err(e) = consume.basic_ack(BasicAckArguments::new(tag, false)).await {
                    return format!("ack: {e}");
                }
            }
            result = results.recv() => {
                let Some(result) = result else { return "the results consumer ended".into() };
                let body = String::from_utf8_lossy(result.content.as_deref().unwrap_or_default()).into_owned();
                state.done.borrow_mut().push(body);
            }
        }
    }
}

/// One STOMP connection's life, as [`amqp_session`].
async fn stomp_session(addr: &str, login: &(String, String), vhost: &str, queue: &str, state: &Local) -> String {
    let client = match stomp::Client::connect(addr, Some((&login.0, &login.1)), vhost).await {
        Ok(c) => Rc::new(c),
        Err(e) => return format!("connect: {e}"),
    };
    let tasks_dest = format!("/queue/{queue}");
    let done_dest = format!("/topic/{queue}.done");
    let subscribed = async {
        let tasks = client
            .subscribe(&tasks_dest, Ack::ClientIndividual, &[("prefetch-count", "1")])
            .await?;
        let results = client.subscribe(&done_dest, Ack::Auto, &[]).await?;
        Ok::<_, stomp::Error>((tasks, results))
    };
    let (mut tasks, mut results) = match subscribed.await {
        Ok(v) => v,
        Err(e) => return format!("subscribe: {e}"),
    };
    *state.link.borrow_mut() = Some(Link::Stomp(client.clone()));
    workerman::log!("queue_worker: consuming {tasks_dest} over STOMP ({})", client.server());
    loop {
        tokio::select! {
            task = tasks.next() => {
                let Some(task) = task else { return "connection lost".into() };
                let body = String::from_utf8_lossy(&task.body).to_uppercase();
                if let Err(e) = client.send(&done_dest, body.as_bytes(), &[]).await {
                    return format!("publish a result: {e}");
                }
                if let Err(e) = client.ack(&task).await {
                    return format!("ack: {e}");
                }
            }
            result = results.next() => {
                let Some(result) = result else { return "connection lost".into() };
                state.done.borrow_mut().push(String::from_utf8_lossy(&result.body).into_owned());
            }
        }
    }
}
