//! Many devices at once: 200 simulated agents (one test process, loopback) keep live
//! connections with heartbeats and report a job each, while the server's memory is measured.
//! The figures are printed (`cargo test -p comet-server --test load -- --nocapture`) and
//! recorded in docs/benchmarks.md.

mod common;

use std::time::{Duration, Instant};

use comet_protocol::agent::{
    Credentials, JobEnd, JobEndRequest, JobLog, JobLogMethod, JobStart, JobStartRequest, JobTotals, LogEntry, Register,
    RegisterRequest, Severity,
};
use comet_protocol::client::AgentClient;
use comet_protocol::live::{AgentMessage, LIVE_PATH, MAX_LIVE_FRAME, ServerMessage};
use comet_protocol::wire;
use common::{Server, device_info};
use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const AGENTS: usize = 200;

/// Resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// One simulated agent: a live connection sending heartbeats until `stop`, and one job.
async fn agent(url: String, token: String, client: AgentClient, stop: tokio::sync::watch::Receiver<bool>) -> usize {
    let mut request = format!("{}{LIVE_PATH}", url.replacen("http://", "ws://", 1)).into_client_request().unwrap();
    request.headers_mut().insert("Authorization", format!("Bearer {token}").parse().unwrap());
    let (socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let (mut sink, mut stream) = socket.split();
    let hello = AgentMessage::Hello { agent_version: "load".into(), platform: "test/x".into(), timezone: "UTC".into() };
    sink.send(Message::Binary(wire::encode(&hello).into())).await.unwrap();
    let Some(Ok(Message::Binary(first))) = stream.next().await else { panic!("no welcome") };
    let ServerMessage::Welcome { heartbeat_secs, duplicate, .. } = wire::decode(&first, MAX_LIVE_FRAME).unwrap() else {
        panic!("not a welcome")
    };
    assert!(!duplicate);

    // A job, reported over the agent API while the connection lives.
    let started = client
        .call::<JobStart>(&JobStartRequest { classification: 4001, source_id: "item".into(), ..Default::default() })
        .await
        .unwrap();
    let line = |message: &str| LogEntry { time: 0, severity: Severity::Info, message: message.into() };
    let batch = JobLog { job_id: started.job_id.clone(), entries: vec![line("one"), line("two")], progress: None };
    client.call::<JobLogMethod>(&batch).await.unwrap();
    let mut heartbeats = 0;
    let end = JobEndRequest {
        job_id: started.job_id.clone(),
        status: 5000,
        totals: JobTotals { files: 1, size: 10, ..Default::default() },
        snapshot_id: "s".into(),
        entries: vec![line("done")],
    };
    let mut ended = false;
    let mut stop = stop;
    let mut tick = tokio::time::interval(Duration::from_secs(u64::from(heartbeat_secs)));
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let running = if ended { vec![] } else { vec![started.job_id.clone()] };
                let beat = AgentMessage::Heartbeat { running_jobs: running };
                sink.send(Message::Binary(wire::encode(&beat).into())).await.unwrap();
                heartbeats += 1;
                if !ended && heartbeats == 2 {
                    client.call::<JobEnd>(&end).await.unwrap();
                    ended = true;
                }
            }
            message = stream.next() => {
                if let Some(Ok(Message::Close(_))) | None = message {
                    panic!("the server closed a live connection");
                }
            }
            _ = stop.changed() => break,
        }
    }
    assert!(ended);
    let _ = sink.close().await;
    heartbeats
}

#[test]
fn two_hundred_agents_stay_connected_with_heartbeats_and_job_reports() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        data.join("comet-server.toml"),
        "[[listen]]\naddress = \"127.0.0.1:1\"\n\n[security]\nargon2_memory_kib = 8192\n\n[jobs]\nheartbeat_seconds = 1\n",
    )
    .unwrap();
    let server = Server::start(&data);
    let secrets = server.add_user("fleet", "a fleet of devices");
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let url = server.url();

    // Devices register (one login each), then connect all at once.
    let devices: Vec<(String, AgentClient)> = runtime.block_on(async {
        let base = AgentClient::new(&url).unwrap();
        let mut devices = Vec::new();
        for i in 0..AGENTS {
            let registered = base
                .call::<Register>(&RegisterRequest {
                    credentials: Credentials::Password {
                        username: "fleet".into(),
                        login_secret: secrets.login_secret.clone(),
                    },
                    device_id: format!("device-{i:03}"),
                    device: device_info(&format!("device-{i:03}")),
                })
                .await
                .unwrap();
            devices.push((registered.device_token.clone(), base.clone().with_token(&registered.device_token)));
        }
        devices
    });
    let before = rss_kib(server.pid());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let started = Instant::now();
    let tasks: Vec<_> = devices
        .into_iter()
        .map(|(token, client)| runtime.spawn(agent(url.clone(), token, client, stop_rx.clone())))
        .collect();
    // All online, with their jobs ended.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (_, online) = server.admin("dispatcher/list-active", &[]);
        let (_, jobs) = server.admin("get-jobs-for-user", &[("TargetUser", "fleet")]);
        let done = jobs.as_array().map_or(0, |j| j.iter().filter(|j| j["Status"] == 5000).count());
        if online.as_object().map_or(0, serde_json::Map::len) == AGENTS && done == AGENTS {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} online, {done} jobs done",
            online.as_object().map_or(0, serde_json::Map::len)
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let connected = started.elapsed();
    std::thread::sleep(Duration::from_secs(3));
    let after = rss_kib(server.pid());
    let (_, online) = server.admin("dispatcher/list-active", &[]);
    assert_eq!(online.as_object().unwrap().len(), AGENTS, "every connection is still up after heartbeats");
    stop_tx.send_replace(true);
    let heartbeats: usize = runtime.block_on(async {
        let mut total = 0;
        for task in tasks {
            total += task.await.expect("an agent failed");
        }
        total
    });
    let per_connection = (after.saturating_sub(before)) as f64 / AGENTS as f64;
    println!(
        "{AGENTS} agents online and {AGENTS} jobs reported in {:.1} s; server RSS {before} KiB -> {after} KiB \
         ({per_connection:.1} KiB per connection); {heartbeats} heartbeats",
        connected.as_secs_f64()
    );
    assert!(heartbeats >= 2 * AGENTS);
    let (_, jobs) = server.admin("get-jobs-for-user", &[("TargetUser", "fleet")]);
    assert!(jobs.as_array().unwrap().iter().all(|j| j["Status"] == 5000 && j["TotalFiles"] == 1));
    server.stop();
}
