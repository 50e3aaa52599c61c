//! Group commit: many callers, few transactions.
//!
//! A commit (an fsync) is the dearest part of a write. Callers hand their work to a few
//! writer tasks; each takes all the work that is waiting, writes it with one commit and
//! answers every caller. Under load many callers share a commit; when idle a caller's work
//! is written alone, at once, so batching adds no delay.

use std::future::Future;
use std::sync::Arc;

use sea_orm::DbErr;
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::StorageError;

struct Job<J, R> {
    request: J,
    reply: oneshot::Sender<Result<R, StorageError>>,
}

/// A handle to submit work through.
pub struct GroupCommit<J, R> {
    jobs: mpsc::Sender<Job<J, R>>,
}

impl<J, R> Clone for GroupCommit<J, R> {
    fn clone(&self) -> Self {
        Self {
            jobs: self.jobs.clone(),
        }
    }
}

impl<J, R> std::fmt::Debug for GroupCommit<J, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit").finish_non_exhaustive()
    }
}

impl<J: Send + 'static, R: Send + 'static> GroupCommit<J, R> {
    /// Starts `writers` tasks on the current tokio runtime. `write` gets a batch of at most
    /// `max_batch` requests and answers each, in order. The tasks stop when every handle
    /// is dropped.
    pub fn start<W, F>(writers: usize, max_batch: usize, write: W) -> Self
    where
        W: Fn(Vec<J>) -> F + Send + Sync + 'static,
        F: Future<Output = Vec<Result<R, StorageError>>> + Send + 'static,
    {
        let max_batch = max_batch.max(1);
        let writers = writers.max(1);
        let (jobs, receiver) = mpsc::channel(max_batch * writers * 4);
        let receiver = Arc::new(Mutex::new(receiver));
        let write = Arc::new(write);
        for _ in 0..writers {
            tokio::spawn(write_loop(receiver.clone(), max_batch, write.clone()));
        }
        Self { jobs }
    }

    /// Submits one request and waits for its answer.
    pub async fn submit(&self, request: J) -> Result<R, StorageError> {
        let (reply, answer) = oneshot::channel();
        let stopped =
            || StorageError::Unavailable(DbErr::Custom("the database writer has stopped".into()));
        self.jobs
            .send(Job { request, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn write_loop<J, R, W, F>(
    receiver: Arc<Mutex<mpsc::Receiver<Job<J, R>>>>,
    max_batch: usize,
    write: Arc<W>,
) where
    J: Send + 'static,
    R: Send + 'static,
    W: Fn(Vec<J>) -> F,
    F: Future<Output = Vec<Result<R, StorageError>>> + Send + 'static,
{
    loop {
        let batch = {
            let mut receiver = receiver.lock().await;
            let Some(first) = receiver.recv().await else {
                return;
            };
            let mut batch = vec![first];
            while batch.len() < max_batch {
                match receiver.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            batch
        };
        let (requests, replies): (Vec<J>, Vec<_>) = batch
            .into_iter()
            .map(|job| (job.request, job.reply))
            .unzip();
        let count = requests.len();
        // The write runs as a task of its own: should it panic, its callers get an error
        // and this writer lives on, instead of every later write failing.
        let results = match tokio::spawn(write(requests)).await {
            Ok(results) => results,
            Err(panic) => {
                tracing::error!(error = %panic, "a database write panicked");
                fan_out_error(
                    StorageError::Corrupt(format!("the write failed: {panic}")),
                    count,
                )
            }
        };
        for (reply, result) in replies.into_iter().zip(results) {
            let _ = reply.send(result);
        }
    }
}

/// One failure told to `count` callers: the first gets the error itself, the others an
/// error of the same kind with its message.
pub(crate) fn fan_out_error<R>(error: StorageError, count: usize) -> Vec<Result<R, StorageError>> {
    let message = error.to_string();
    let unavailable = error.is_unavailable();
    let mut first = Some(error);
    (0..count)
        .map(|_| {
            Err(first.take().unwrap_or_else(|| {
                if unavailable {
                    StorageError::Unavailable(DbErr::Custom(message.clone()))
                } else {
                    StorageError::Database(DbErr::Custom(message.clone()))
                }
            }))
        })
        .collect()
}
