//! `rtmfp transfer`: two endpoints on 127.0.0.1 with Flash crypto, a handshake, then a bulk
//! transfer.

use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::SeedableRng;
use rtmfp::crypto::cert::epd_for_url;
use rtmfp::{Config, Event, FlashProfile, Priority};

pub async fn run(megabytes: usize) -> Result<(), Box<dyn std::error::Error>> {
    let mut rng = rand_chacha::ChaCha20Rng::from_entropy();
    let loopback = "127.0.0.1:0".parse()?;
    let (server, mut server_events) = rtmfp_node::spawn(
        loopback,
        Config::default(),
        Box::new(FlashProfile::server(&mut rng)),
        1024,
    )
    .await?;
    let (client, mut client_events) = rtmfp_node::spawn(
        loopback,
        Config::default(),
        Box::new(FlashProfile::client(&mut rng)),
        1024,
    )
    .await?;
    println!(
        "server {} peer ID {}",
        server.local_addr(),
        hex::encode(server.fingerprint())
    );
    println!(
        "client {} peer ID {}",
        client.local_addr(),
        hex::encode(client.fingerprint())
    );
    let t0 = Instant::now();
    let url = format!("rtmfp://{}/demo", server.local_addr());
    let session = client
        .connect(epd_for_url(&url), vec![server.local_addr()])
        .await?;
    loop {
        match client_events.recv().await {
            Some(Event::SessionOpened { .. }) => break,
            Some(Event::ConnectFailed { reason, .. }) => {
                return Err(format!("connect failed: {reason:?}").into())
            }
            Some(_) => {}
            None => return Err("driver stopped".into()),
        }
    }
    println!("handshake {:.2} ms", t0.elapsed().as_secs_f64() * 1e3);
    let flow = client
        .open_flow(session, b"TC\x04\x00".to_vec(), None, Priority::BULK)
        .await?;
    let total = megabytes << 20;
    let writer = {
        let client = client.clone();
        tokio::spawn(async move {
            let chunk = Bytes::from(vec![0x5a; 64 << 10]);
            let mut sent = 0;
            while sent < total {
                client.write(session, flow, chunk.clone()).await?;
                sent += chunk.len();
            }
            Ok::<_, rtmfp_node::DriverError>(())
        })
    };
    let t1 = Instant::now();
    let mut got = 0usize;
    while got < total {
        match tokio::time::timeout(Duration::from_secs(30), server_events.recv()).await? {
            Some(Event::Message { data, .. }) => got += data.len(),
            Some(_) => {}
            None => break,
        }
    }
    writer.await??;
    let secs = t1.elapsed().as_secs_f64();
    println!(
        "transferred {} MiB in {:.3} s: {:.1} MB/s",
        megabytes,
        secs,
        got as f64 / secs / 1e6
    );
    if let Some(info) = client.session_info(session).await? {
        println!(
            "srtt {:?}, cwnd {} bytes, retransmissions {}",
            info.stats.srtt, info.stats.cwnd, info.stats.retransmissions
        );
    }
    client.close(session).await?;
    Ok(())
}
