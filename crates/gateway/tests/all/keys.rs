//! Key stores: hashes only, atomic file writes, and the gateway accepting a key from
//! a `FileKeyStore`.

use std::sync::Arc;

use gateway::{FileKeyStore, KeyStore as _, KeyStoreError, hash_key, mint_key};
use jsonrpsee::core::client::ClientT as _;
use serde_json::{Value, json};

use crate::mock::MockApi;
use crate::support::{auth_headers, params, test_config};

#[tokio::test]
async fn the_file_store_keeps_hashes_only_and_survives_concurrent_inserts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/api-keys.json");
    let store = Arc::new(FileKeyStore::new(&path));
    assert_eq!(store.find(&hash_key("lsk_nothing")).await.unwrap(), None);

    let minted: Vec<_> = (0..8).map(|i| mint_key("u1", i)).collect();
    let inserts = minted.iter().map(|(_, record)| {
        let store = Arc::clone(&store);
        let record = record.clone();
        async move { store.insert(record).await }
    });
    for result in futures::future::join_all(inserts).await {
        result.unwrap();
    }

    let text = std::fs::read_to_string(&path).unwrap();
    let file: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(file["version"], 1);
    assert_eq!(file["keys"].as_array().unwrap().len(), minted.len());
    for (key, record) in &minted {
        assert!(!text.contains(key.as_str()), "plaintext key in the file");
        assert!(text.contains(&record.key_hash));
        assert_eq!(
            store.find(&hash_key(key)).await.unwrap().as_ref(),
            Some(record)
        );
    }
    let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "temp files left behind: {leftovers:?}");

    let duplicate = store.insert(minted[0].1.clone()).await;
    assert!(matches!(duplicate, Err(KeyStoreError::Duplicate)));
}

#[tokio::test]
async fn a_corrupt_key_file_denies_rather_than_admits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("api-keys.json");
    std::fs::write(&path, "{ not json").unwrap();
    let store = Arc::new(FileKeyStore::new(&path));
    assert!(matches!(
        store.find("00").await,
        Err(KeyStoreError::Corrupt { .. })
    ));

    let gateway = gateway::serve(Arc::new(MockApi::new()), store, test_config())
        .await
        .unwrap();
    let client = jsonrpsee::http_client::HttpClientBuilder::default()
        .set_headers(auth_headers(Some("lsk_whatever")))
        .build(format!("http://{}/rpc", gateway.local_addr()))
        .unwrap();
    let err = crate::support::call_error(
        client
            .request::<Value, _>("initialize", params(json!({})))
            .await,
    );
    assert_eq!(err.code(), -32603);
    assert_eq!(crate::support::error_data(&err)["reason"], "keyStoreFailed");
    gateway.shutdown().await;
}

#[tokio::test]
async fn the_gateway_accepts_a_key_from_the_file_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FileKeyStore::new(dir.path().join("api-keys.json")));
    let (key, record) = mint_key("file-universe", 5);
    store.insert(record).await.unwrap();
    let gateway = gateway::serve(Arc::new(MockApi::new()), store, test_config())
        .await
        .unwrap();
    let client = jsonrpsee::http_client::HttpClientBuilder::default()
        .set_headers(auth_headers(Some(&key)))
        .build(format!("http://{}/rpc", gateway.local_addr()))
        .unwrap();
    let result: Value = client
        .request("initialize", params(json!({})))
        .await
        .unwrap();
    assert_eq!(result["universeId"], "file-universe");
    gateway.shutdown().await;
}
