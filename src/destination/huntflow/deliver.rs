//! A Huntflow delivery: the applicant created once (the created-once record holds its id; an
//! unknown outcome is looked up by email before creating again), then put on the route's
//! vacancy after reading its links, so never twice. Each step is recorded before the next.

use futures_util::StreamExt;

use super::client::HuntflowClient;
use super::mapping::{self, Applicant};
use super::{ATTACHED, CREATED, Huntflow, NO_EMAIL, SEARCHABLE_AFTER_MS};
use crate::destination::Delivery;
use crate::job::{Failure, Step};
use crate::store::PushSlot;

impl Huntflow {
    /// The applicant (created once), then the vacancy; each step recorded before the next.
    pub(super) async fn steps(
        &self,
        client: &HuntflowClient,
        mut d: Delivery<'_>,
        applicant: Applicant,
    ) -> Result<(), Failure> {
        let Some(email) = applicant.email().map(str::to_string) else {
            return Err(Failure::permanent(NO_EMAIL));
        };
        let (store, job) = (d.store, d.job);
        let id = match store.acquire_push(&job.route, &job.profile_key, job.id).await? {
            PushSlot::Busy => {
                return Err(Failure::busy(
                    "another job is creating this applicant for this route",
                ));
            }
            PushSlot::Pushed => match store.created_id(&job.route, &job.profile_key).await? {
                Some(id) => id.parse::<i64>().map_err(|_| {
                    Failure::permanent(format!("the recorded applicant id {id:?} is not a number"))
                })?,
                // Created by an older path without its id: Huntflow knows it by email.
                None => client.find(&email).await?.ok_or_else(|| {
                    Failure::transient("the applicant was created but Huntflow does not find it yet")
                })?,
            },
            PushSlot::Unknown => match client.find(&email).await? {
                Some(id) => {
                    tracing::info!("the earlier create had reached Huntflow: not creating again");
                    store
                        .record_created(&job.route, &job.profile_key, job.id, &id.to_string())
                        .await?;
                    id
                }
                None => {
                    // A new applicant may take a moment to become searchable: an earlier
                    // create this recent is looked for again later, not repeated.
                    let taken = store.push_taken_at(&job.route, &job.profile_key).await?;
                    if taken.is_some_and(|t| crate::store::now_ms() - t < SEARCHABLE_AFTER_MS) {
                        return Err(Failure::transient(
                            "an earlier create's outcome is unknown and Huntflow does not find the applicant yet: looking again later",
                        ));
                    }
                    self.create(client, &mut d, &applicant).await?
                }
            },
            PushSlot::Free => self.create(client, &mut d, &applicant).await?,
        };
        *d.step = Step::reached(CREATED);
        if let Some(vacancy) = self.vacancy {
            if client.on_vacancy(id, vacancy).await? {
                tracing::info!("the applicant is on the vacancy already");
            } else {
                client.attach(id, vacancy, self.status).await?;
            }
            *d.step = Step::reached(ATTACHED);
        }
        Ok(())
    }

    /// Uploads the resume and creates the applicant, holding the created-once slot: freed when
    /// nothing can have been created, kept (outcome unknown) otherwise.
    async fn create(
        &self,
        client: &HuntflowClient,
        d: &mut Delivery<'_>,
        applicant: &Applicant,
    ) -> Result<i64, Failure> {
        let (store, job) = (d.store, d.job);
        let free = || store.clear_push(&job.route, &job.profile_key, job.id);
        let files = match &applicant.resume {
            None => Vec::new(),
            Some(r) => match self.upload(client, r).await {
                Ok(id) => vec![id],
                Err(f) => {
                    free().await?;
                    return Err(f);
                }
            },
        };
        let body = applicant.complete(client.account_source, &files);
        match client.create(&body).await {
            Ok((id, doubles)) => {
                store
                    .record_created(&job.route, &job.profile_key, job.id, &id.to_string())
                    .await?;
                if doubles.is_empty() {
                    tracing::info!(applicant_id = id, "applicant created");
                } else {
                    tracing::warn!(applicant_id = id, doubles = ?doubles, "applicant created; Huntflow lists possible duplicates (a person merges them in Huntflow)");
                    *d.note = Some(format!(
                        "applicant {id} created; Huntflow lists possible duplicates: {} (merging them is a person's decision in Huntflow)",
                        doubles
                            .iter()
                            .map(|x| format!("applicant {x}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                Ok(id)
            }
            Err(f) => {
                // A 4xx, a rate-limit turn or a request that never left created nothing.
                let nothing = f.http_status().is_some_and(|s| s < 500) || !f.maybe_applied();
                if nothing {
                    free().await?;
                }
                Err(f)
            }
        }
    }

    async fn upload(&self, client: &HuntflowClient, r: &mapping::Resume) -> Result<i64, Failure> {
        let bytes = download(client, &r.url).await?;
        client.upload(&r.name, r.content_type, &bytes).await
    }
}

/// The resume, read whole within Huntflow's 15 MB.
async fn download(client: &HuntflowClient, url: &str) -> Result<Vec<u8>, Failure> {
    let host = url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default();
    let what = format!("resume download from {host}");
    let response = client
        .http()
        .get(url)
        .timeout(client.timeout)
        .send()
        .await
        .map_err(|e| Failure::from_reqwest(&what, &e).not_applied())?;
    if !response.status().is_success() {
        return Err(Failure::from_status(&what, &response));
    }
    let cap = client.max_resume_bytes;
    let too_large = || Failure::permanent(format!("the resume is larger than {cap} bytes"));
    if response.content_length().is_some_and(|n| n > cap) {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| Failure::from_reqwest(&what, &e).not_applied())?;
        if bytes.len() as u64 + chunk.len() as u64 > cap {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}
