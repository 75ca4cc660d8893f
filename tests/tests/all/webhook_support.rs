//! What the webhook tests share: an account with a connection to the fake
//! ATS through the well-behaved guest, the HTTP API on loopback, a webhook
//! receiver on loopback that keeps every request (and can fail on purpose),
//! and the delivery worker with short retry and poll intervals.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use atsbridge::api::{ApiState, AuthConfig, router};
use atsbridge::app::App;
use atsbridge::events::{DeliveryPolicy, WebhookWorker};
use atsbridge::service::Service;
use atsbridge::store::{SecretKey, Trigger};
use atsbridge::sync::NoProgress;
use atsbridge_tests::guests;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};

use crate::ops_support::{OPERATOR_TOKEN as OPERATOR, operator_client};
use crate::support::{self, API_KEY, FakeAts};

/// What the receiver got: (headers, body), every request, failed ones too.
#[derive(Clone, Default)]
pub struct Receiver {
    pub got: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
    /// How many of the next requests are answered 503.
    pub fail_next: Arc<AtomicUsize>,
}

impl Receiver {
    /// Every request so far.
    pub fn requests(&self) -> Vec<(HeaderMap, Bytes)> {
        self.got.lock().unwrap().clone()
    }
}

async fn receive(
    axum::extract::State(r): axum::extract::State<Receiver>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    r.got.lock().unwrap().push((headers, body));
    let failing = r.fail_next.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
    if failing { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK }
}

/// The account `acme`, its connection, the API and the receiver, all live.
pub struct WebhookSetup {
    pub ats: FakeAts,
    pub app: App,
    pub connection: String,
    pub receiver: Receiver,
    /// The receiver's URL (`http://127.0.0.1:<port>/hook`).
    pub hook_url: String,
    /// The API's base URL.
    pub api: String,
    /// A client authenticated as the operator.
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
}

/// The running delivery worker; [`Worker::stop`] ends it.
pub struct Worker {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Worker {
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        self.task.await.unwrap();
    }
}

impl WebhookSetup {
    pub async fn new() -> Self {
        let ats = support::fake_ats().await;
        let dir = tempfile::tempdir().unwrap();
        let app = App::open(dir.path(), Some(SecretKey::generate().unwrap())).unwrap();
        support::install(&app.runtime, dir.path(), "well-behaved", "1.2.3", guests::WELL_BEHAVED, "").await;
        app.store.add_account("Acme", "Europe/Berlin").unwrap();
        let values =
            BTreeMap::from([("base-url".to_string(), ats.base()), ("api-key".to_string(), API_KEY.to_string())]);
        let hosts = vec![support::url_origin(&ats.base())];
        let connection = app.add_connection("acme", "Main", "well-behaved", &values, hosts, None).unwrap().id;
        let receiver = Receiver::default();
        let hook_router = axum::Router::new().route("/hook", axum::routing::post(receive)).with_state(receiver.clone());
        let hook_url = format!("http://{}/hook", support::serve(hook_router).await.0);
        let auth = AuthConfig { operator_token: OPERATOR.to_string().into(), allowed_hosts: None };
        let api_router = router(ApiState { service: Service::local(app.clone()).unwrap(), auth: Arc::new(auth) });
        let api = format!("http://{}", support::serve(api_router).await.0);
        WebhookSetup { ats, app, connection, receiver, hook_url, api, http: operator_client(), _dir: dir }
    }

    /// Starts the delivery worker, retrying after 200 ms and polling every 50 ms.
    pub fn start_worker(&self) -> Worker {
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let policy = DeliveryPolicy {
            retry_base: Duration::from_millis(200),
            poll: Duration::from_millis(50),
            ..Default::default()
        };
        let task = tokio::spawn(WebhookWorker::new(self.app.store.clone(), policy).unwrap().run(stop_rx));
        Worker { stop, task }
    }

    /// One sync of the connection, which must succeed.
    pub async fn sync(&self, trigger: Trigger) {
        self.app.engine.sync(&self.connection, trigger, &NoProgress).await.unwrap();
    }
}
