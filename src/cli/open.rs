//! Opening the configured database for a command that runs beside the service.

use crate::config::Settings;

/// The configured database, migrated, for a command beside the service; says why not.
pub async fn store(settings: &Settings, connections: u32) -> Option<crate::store::Store> {
    match crate::store::Store::existing(settings.database.url.expose(), connections).await {
        Ok(s) => Some(s),
        Err(e) => {
            eprintln!("cannot open the database: {e}");
            None
        }
    }
}
