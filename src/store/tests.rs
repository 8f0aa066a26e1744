use std::time::Duration;

use super::*;

async fn level(store: &Store, durability: Durability) -> i64 {
    let mut conn = store.write_conn(durability).await.unwrap();
    sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(&mut *conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn durable_writes_commit_full_and_bookkeeping_normal() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/t.db", dir.path().display());
    let store = Store::connect(&url, 2).await.unwrap();
    // 2 is FULL, 1 is NORMAL; whatever ran before, each write gets what it asked for.
    assert_eq!(level(&store, Durability::Full).await, 2);
    assert_eq!(level(&store, Durability::Normal).await, 1);
    assert_eq!(level(&store, Durability::Normal).await, 1);
    assert_eq!(level(&store, Durability::Full).await, 2);
    store.claim("w", Duration::from_secs(1)).await.unwrap();
    assert_eq!(level(&store, Durability::Full).await, 2);
}

fn sync_level(durability: Durability) -> write::Write {
    write::Write {
        sql: vec!["SELECT synchronous FROM pragma_synchronous".into()],
        args: Vec::new(),
        durability,
    }
}

async fn sqlite_store(dir: &tempfile::TempDir) -> Store {
    let url = format!("sqlite://{}/t.db", dir.path().display());
    Store::connect(&url, 2).await.unwrap()
}

async fn replicas(store: &Store) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM replicas")
        .fetch_one(store.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn the_writer_thread_commits_at_the_level_its_writes_need() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(&dir).await;
    for (durability, level) in [
        (Durability::Normal, 1),
        (Durability::Full, 2),
        (Durability::Normal, 1),
    ] {
        let rows = store.write(sync_level(durability)).await.unwrap();
        assert_eq!(rows[0].get::<i64>("synchronous").unwrap(), level);
    }
}

#[tokio::test]
async fn the_writer_thread_checkpoints_the_wal_between_batches() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(&dir).await;
    let wide = "x".repeat(3000);
    for round in 0..25 {
        // Ten rows of 3 kB: about thirty pages a round with the id's index, 750 in all (3 MB
        // of WAL), below SQLite's own threshold; only the writer's checkpoint between
        // batches lets the WAL start over.
        let rows = (0..10)
            .map(|i| format!("('{round}-{i}-{wide}', 1)"))
            .collect::<Vec<_>>()
            .join(", ");
        store
            .write(write::Write {
                sql: vec![format!(
                    "INSERT INTO replicas (id, last_seen) VALUES {rows}"
                )],
                args: Vec::new(),
                durability: Durability::Normal,
            })
            .await
            .unwrap();
        tokio::time::sleep(CHECKPOINT_WAIT).await;
    }
    let wal = std::fs::metadata(dir.path().join("t.db-wal"))
        .unwrap()
        .len();
    assert!(
        wal < 1_000_000,
        "the WAL grew to {wal} bytes: nothing copied it back between batches"
    );
    assert_eq!(replicas(&store).await, 250);
}

/// Longer than the writer's interval between checkpoints.
const CHECKPOINT_WAIT: Duration = Duration::from_millis(60);

#[tokio::test]
async fn a_failed_write_is_rolled_back_whole_and_the_thread_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(&dir).await;
    let failed = store
        .write(write::Write {
            sql: vec![
                "INSERT INTO replicas (id, last_seen) VALUES ('r', 1)".into(),
                "INSERT INTO no_such_table VALUES (1)".into(),
            ],
            args: Vec::new(),
            durability: Durability::Normal,
        })
        .await;
    assert!(failed.is_err());
    assert_eq!(
        replicas(&store).await,
        0,
        "the first statement went with the second"
    );
    store
        .heartbeat_replica("r", Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(replicas(&store).await, 1);
    let rows = store.write(sync_level(Durability::Full)).await.unwrap();
    assert_eq!(rows[0].get::<i64>("synchronous").unwrap(), 2);
}

#[tokio::test]
async fn a_lent_connection_stops_the_writer_thread_until_it_goes_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(&dir).await;
    let mut lent = store.write_conn(Durability::Full).await.unwrap();
    let queued = {
        let store = store.clone();
        tokio::spawn(async move { store.write(sync_level(Durability::Normal)).await })
    };
    // The lent connection writes without waiting on SQLite's lock.
    sqlx::query("INSERT INTO replicas (id, last_seen) VALUES ('cold', 1)")
        .execute(&mut *lent)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !queued.is_finished(),
        "the thread waits while the connection is lent"
    );
    drop(lent);
    assert!(queued.await.unwrap().is_ok());
    assert_eq!(replicas(&store).await, 1);
}

#[tokio::test]
async fn a_closed_store_refuses_writes() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(&dir).await;
    store.write(sync_level(Durability::Full)).await.unwrap();
    store.close().await;
    assert!(store.write(sync_level(Durability::Full)).await.is_err());
}
