//! The Rust yardstick of bench/experiments/rust.sh: taskapi's two hottest routes in
//! hyper + tokio + tokio-postgres, the stack of the well-known Rust
//! version of this API.  Same SQL as taskapi's task_get, same HS256
//! token check (no cache), same JSON fields; nothing else of the API.
//!
//!   LISTEN=127.0.0.1:18094 DATABASE=conninfo JWT_SECRET=... rust-yardstick
//!
//! DB_CONNECTIONS (default 4, like taskapi's event worker) clients,
//! picked round robin; tokio-postgres pipelines the queries of
//! concurrent requests on each.

use hmac::{Hmac, Mac};
use hyper::service::{make_service_fn, service_fn};
use hyper::{Body, Method, Request, Response, Server, StatusCode};
use sha2::Sha256;
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio_postgres::types::Type;
use tokio_postgres::{Client, NoTls, Statement};

// Timestamps as PostgreSQL's own text (ISO, not reformatted): cheaper
// than taskapi's RFC 3339, so any doubt favours the yardstick.
const TASK_GET: &str = "SELECT t.id::text, t.user_id::text, t.title, \
    t.description, t.status::text, t.priority::text, t.due_at::text, \
    t.created_at::text, t.updated_at::text \
    FROM users me LEFT JOIN tasks t ON t.id = $2::uuid AND t.user_id = me.id \
    WHERE me.id = $1::uuid";
const FIELDS: [&str; 9] = [
    "id", "user_id", "title", "description", "status", "priority", "due_at",
    "created_at", "updated_at",
];

struct Db {
    client: Client,
    task_get: Statement,
    ping: Statement,
}

struct App {
    dbs: Vec<Db>,
    next: AtomicUsize,
    secret: Vec<u8>,
}

fn json(status: StatusCode, body: String) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("Content-Type", "application/json")
        .body(Body::from(body))
        .expect("a valid response")
}

fn error(status: StatusCode, msg: &str) -> Response<Body> {
    json(status, serde_json::json!({ "error": msg }).to_string())
}

/// The token's subject when its HS256 signature and expiry are good.
fn verify(secret: &[u8], auth: Option<&str>) -> Option<String> {
    let token = auth?.strip_prefix("Bearer ")?;
    let mut parts = token.split('.');
    let (h, p, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let sig = base64::decode_config(s, base64::URL_SAFE_NO_PAD).ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).ok()?;
    mac.update(h.as_bytes());
    mac.update(b".");
    mac.update(p.as_bytes());
    mac.verify_slice(&sig).ok()?;
    let claims: serde_json::Value =
        serde_json::from_slice(&base64::decode_config(p, base64::URL_SAFE_NO_PAD).ok()?).ok()?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs();
    if claims.get("exp")?.as_u64()? <= now {
        return None;
    }
    Some(claims.get("sub")?.as_str()?.to_owned())
}

async fn handle(app: Arc<App>, req: Request<Body>) -> Result<Response<Body>, Infallible> {
    let db = &app.dbs[app.next.fetch_add(1, Ordering::Relaxed) % app.dbs.len()];
    let path = req.uri().path();
    if req.method() != Method::GET {
        return Ok(error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"));
    }
    if path == "/health" {
        return Ok(match db.client.query_one(&db.ping, &[]).await {
            Ok(_) => json(StatusCode::OK, r#"{"status":"ok","database":"ok"}"#.into()),
            Err(_) => json(
                StatusCode::SERVICE_UNAVAILABLE,
                r#"{"status":"degraded","database":"unavailable"}"#.into(),
            ),
        });
    }
    let id = match path.strip_prefix("/api/v1/tasks/") {
        Some(id) if id.len() == 36 && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') => {
            id.to_owned()
        }
        Some(_) => return Ok(error(StatusCode::NOT_FOUND, "task not found")),
        None => return Ok(error(StatusCode::NOT_FOUND, "not found")),
    };
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    let user = match verify(&app.secret, auth) {
        Some(u) => u,
        None => {
            return Ok(error(
                StatusCode::UNAUTHORIZED,
                "missing, invalid or expired token",
            ))
        }
    };
    let row = match db.client.query_opt(&db.task_get, &[&user, &id]).await {
        Ok(Some(row)) => row,
        Ok(None) => {
            return Ok(error(
                StatusCode::UNAUTHORIZED,
                "missing, invalid or expired token",
            ))
        }
        Err(_) => return Ok(error(StatusCode::SERVICE_UNAVAILABLE, "database unavailable")),
    };
    if row.get::<_, Option<String>>(0).is_none() {
        return Ok(error(StatusCode::NOT_FOUND, "task not found"));
    }
    let mut obj = serde_json::Map::with_capacity(FIELDS.len());
    for (i, name) in FIELDS.iter().enumerate() {
        let v: Option<String> = row.get(i);
        obj.insert(
            (*name).to_owned(),
            v.map_or(serde_json::Value::Null, serde_json::Value::String),
        );
    }
    Ok(json(StatusCode::OK, serde_json::Value::Object(obj).to_string()))
}

#[tokio::main]
async fn main() {
    let env = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} must be set"));
    let conninfo = env("DATABASE");
    let n: usize = std::env::var("DB_CONNECTIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4);
    let mut dbs = Vec::with_capacity(n);
    for _ in 0..n {
        let (client, conn) = tokio_postgres::connect(&conninfo, NoTls)
            .await
            .expect("connecting to PostgreSQL");
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                eprintln!("rust-yardstick: connection: {e}");
            }
        });
        let task_get = client
            .prepare_typed(TASK_GET, &[Type::TEXT, Type::TEXT])
            .await
            .expect("preparing task_get");
        let ping = client.prepare("SELECT 1").await.expect("preparing ping");
        dbs.push(Db { client, task_get, ping });
    }
    let app = Arc::new(App {
        dbs,
        next: AtomicUsize::new(0),
        secret: env("JWT_SECRET").into_bytes(),
    });
    let addr = env("LISTEN").parse().expect("LISTEN: host:port");
    let make = make_service_fn(move |_| {
        let app = app.clone();
        async move { Ok::<_, Infallible>(service_fn(move |req| handle(app.clone(), req))) }
    });
    eprintln!("rust-yardstick: listening on {addr}");
    if let Err(e) = Server::bind(&addr).serve(make).await {
        eprintln!("rust-yardstick: {e}");
        std::process::exit(1);
    }
}
