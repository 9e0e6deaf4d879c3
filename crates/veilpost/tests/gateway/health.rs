//! Health for load balancers and container images: `/healthz/live`, `/healthz/ready`
//! (database, blob store, disk, DKIM keys, certificate) and `veilpost healthcheck`.

use crate::{Gateway, http_get, test_dir};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_what_the_node_can_do() {
    let dir = test_dir("health");
    let mut gw = Gateway::configure(&dir, "");
    gw.start();
    let (code, body) = http_get(gw.web_port, "/healthz/live").await;
    assert_eq!((code, body.contains("\"live\"")), (200, true), "{body}");

    let (code, body) = http_get(gw.web_port, "/healthz/ready").await;
    assert_eq!(code, 200, "{body}");
    let ready: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(ready["status"], "ready");
    let checks = ready["checks"].as_array().expect("checks");
    let ids: Vec<&str> = checks.iter().filter_map(|c| c["id"].as_str()).collect();
    assert_eq!(ids, ["database", "blobs", "disk", "dkim", "certificate"]);
    assert!(checks.iter().all(|c| c["ok"] == true), "{body}");
    let out = gw.cli(&["healthcheck"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ready");

    // The blob store cannot take a message: not ready, and the command says which check.
    let blobs = dir.join("data/blobs");
    let away = dir.join("data/blobs.away");
    std::fs::rename(&blobs, &away).expect("move the blobs away");
    std::fs::write(&blobs, b"not a directory").expect("file in its place");
    // Answers are reused for a second (the endpoint is public): wait for a new one.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (code, body) = http_get(gw.web_port, "/healthz/ready").await;
    assert_eq!(code, 503, "{body}");
    let not: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(not["status"], "not ready");
    let failed: Vec<&str> = not["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["ok"] == false)
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert_eq!(failed, ["blobs"]);
    // The endpoint is public: it names the check, not where the data lives.
    assert!(!body.contains(dir.to_str().expect("utf-8")), "{body}");
    let out = gw.cli(&["healthcheck"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("blobs"),
        "{out:?}"
    );
    std::fs::remove_file(&blobs).expect("remove the file");
    std::fs::rename(&away, &blobs).expect("blobs back");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(http_get(gw.web_port, "/healthz/ready").await.0, 200);

    // Nobody answering: not ready.
    gw.kill9();
    let out = gw.cli(&["healthcheck"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "not ready");
    let _ = std::fs::remove_dir_all(&dir);
}
