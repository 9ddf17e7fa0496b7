//! The S3 side of a [`ZarrRoot`](super::ZarrRoot): one client per bucket
//! (probed once when first used), the error a refused or failed probe is
//! said as, and the tokio runtime that drives every request of the process
//! behind zarrs' synchronous storage traits.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey};
use object_store::prefix::PrefixStore;
use object_store::{ClientConfigKey, ObjectStore, RetryConfig};
use zarrs::storage::storage_adapter::async_to_sync::{
    AsyncToSyncBlockOn, AsyncToSyncStorageAdapter,
};
use zarrs::storage::{
    byte_range::ByteRangeIterator, AsyncReadableStorageTraits, Bytes, ListableStorageTraits,
    MaybeBytes, MaybeBytesIterator, OffsetBytesIterator, ReadableStorageTraits, StorageError,
    StoreKey, StoreKeys, StoreKeysPrefixes, StorePrefix, WritableStorageTraits,
};
use zarrs_object_store::AsyncObjectStore;

use super::root::Opened;
use crate::error::{IoError, Result};

/// The tokio runtime that drives every S3 request of the process. Its
/// futures run on the calling (worker) threads through `block_on`; the
/// runtime's own threads only drive the sockets and timers.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("ndchunk-s3")
            .enable_all()
            .build()
            .expect("a tokio runtime for S3 requests")
    })
}

/// Runs `future` to completion on the calling thread, its sockets and
/// timers driven by [`runtime`]. Called from inside a tokio runtime of the
/// caller's (a synchronous `open_zarr` in an `async fn`), where tokio's
/// own `block_on` would panic, the future is polled by a plain executor
/// with our runtime entered instead: the caller's thread waits, as for any
/// synchronous I/O.
pub(super) fn block_on<F: core::future::Future>(future: F) -> F::Output {
    if tokio::runtime::Handle::try_current().is_ok() {
        let _entered = runtime().enter();
        return futures::executor::block_on(future);
    }
    runtime().block_on(future)
}

struct TokioBlockOn;

impl AsyncToSyncBlockOn for TokioBlockOn {
    fn block_on<F: core::future::Future>(&self, future: F) -> F::Output {
        block_on(future)
    }
}

/// The objects of a bucket prefix as zarrs' synchronous storage: zarrs'
/// adapter, except that a whole object is read with one GET. (The
/// adapter's `get` is the synchronous trait's default, a read of the byte
/// range "from 0 to the end", which the async store makes a HEAD for the
/// size and a ranged GET: two requests in sequence for every chunk.)
struct S3Storage {
    objects: Arc<S3Objects>,
    adapter: AsyncToSyncStorageAdapter<S3Objects, TokioBlockOn>,
}

type S3Objects = AsyncObjectStore<Arc<PrefixStore<Arc<AmazonS3>>>>;

impl S3Storage {
    fn new(objects: Arc<S3Objects>) -> S3Storage {
        S3Storage {
            adapter: AsyncToSyncStorageAdapter::new(objects.clone(), TokioBlockOn),
            objects,
        }
    }
}

impl ReadableStorageTraits for S3Storage {
    fn get(&self, key: &StoreKey) -> std::result::Result<MaybeBytes, StorageError> {
        block_on(AsyncReadableStorageTraits::get(&*self.objects, key))
    }

    fn get_partial_many<'a>(
        &'a self,
        key: &StoreKey,
        byte_ranges: ByteRangeIterator<'a>,
    ) -> std::result::Result<MaybeBytesIterator<'a>, StorageError> {
        self.adapter.get_partial_many(key, byte_ranges)
    }

    fn size_key(&self, key: &StoreKey) -> std::result::Result<Option<u64>, StorageError> {
        self.adapter.size_key(key)
    }

    fn supports_get_partial(&self) -> bool {
        self.adapter.supports_get_partial()
    }
}

impl WritableStorageTraits for S3Storage {
    fn set(&self, key: &StoreKey, value: Bytes) -> std::result::Result<(), StorageError> {
        self.adapter.set(key, value)
    }

    fn set_partial_many(
        &self,
        key: &StoreKey,
        offset_values: OffsetBytesIterator,
    ) -> std::result::Result<(), StorageError> {
        self.adapter.set_partial_many(key, offset_values)
    }

    fn erase(&self, key: &StoreKey) -> std::result::Result<(), StorageError> {
        self.adapter.erase(key)
    }

    fn erase_many(&self, keys: &[StoreKey]) -> std::result::Result<(), StorageError> {
        self.adapter.erase_many(keys)
    }

    fn erase_prefix(&self, prefix: &StorePrefix) -> std::result::Result<(), StorageError> {
        self.adapter.erase_prefix(prefix)
    }

    fn supports_set_partial(&self) -> bool {
        self.adapter.supports_set_partial()
    }
}

impl ListableStorageTraits for S3Storage {
    fn list(&self) -> std::result::Result<StoreKeys, StorageError> {
        self.adapter.list()
    }

    fn list_prefix(&self, prefix: &StorePrefix) -> std::result::Result<StoreKeys, StorageError> {
        self.adapter.list_prefix(prefix)
    }

    fn list_dir(
        &self,
        prefix: &StorePrefix,
    ) -> std::result::Result<StoreKeysPrefixes, StorageError> {
        self.adapter.list_dir(prefix)
    }

    fn size_prefix(&self, prefix: &StorePrefix) -> std::result::Result<u64, StorageError> {
        self.adapter.size_prefix(prefix)
    }

    fn size(&self) -> std::result::Result<u64, StorageError> {
        self.adapter.size()
    }
}

/// Where requests go, for error messages.
pub(super) fn endpoint() -> String {
    ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_ENDPOINT"]
        .iter()
        .find_map(|var| std::env::var(var).ok())
        .unwrap_or_else(|| "AWS S3".into())
}

fn s3_client(url: &str, bucket: &str, retry: RetryConfig) -> Result<AmazonS3> {
    // Client settings as configuration keys: `with_client_options` would
    // replace what the environment set.
    [
        (ClientConfigKey::ConnectTimeout, "10s"),
        (ClientConfigKey::Timeout, "120s"),
        (ClientConfigKey::PoolMaxIdlePerHost, "64"),
    ]
    .into_iter()
    .fold(AmazonS3Builder::from_env(), |b, (key, value)| {
        b.with_config(AmazonS3ConfigKey::Client(key), value)
    })
    .with_bucket_name(bucket)
    .with_retry(retry)
    // An endpoint given as `http://` (a test server, a MinIO on the local
    // network) is meant as given.
    .with_allow_http(endpoint().starts_with("http://"))
    .build()
    .map_err(|e| IoError::NotAStore {
        path: url.to_string(),
        reason: format!("cannot configure S3 access: {e}"),
    })
}

/// The storage of `s3://bucket/prefix`, through the process's client of
/// the bucket ([`bucket_client`]).
pub(super) fn s3_open(url: &str, bucket: &str, prefix: &str) -> Result<Opened> {
    let client = bucket_client(url, bucket, prefix)?;
    let objects = Arc::new(PrefixStore::new(client, prefix));
    let store = AsyncObjectStore::new(objects.clone());
    Ok(Opened {
        storage: Arc::new(S3Storage::new(Arc::new(store))),
        objects: Some(objects),
    })
}

/// The process's client of `bucket` in the S3 environment (`AWS_*`) of
/// the moment, made when first asked for, after one
/// listing (of `prefix`, the first root opened there) has shown that the
/// endpoint answers, the bucket exists and the credentials are accepted.
/// Every root in the bucket shares it, and so its connections: a job over
/// many arrays of one bucket probes it once.
fn bucket_client(url: &str, bucket: &str, prefix: &str) -> Result<Arc<AmazonS3>> {
    static CLIENTS: OnceLock<Mutex<HashMap<Vec<String>, Arc<AmazonS3>>>> = OnceLock::new();
    // Every `AWS_*` variable, as the client reads them (credentials,
    // region, endpoint, roles, …): another environment, another client.
    let mut settings: Vec<String> = std::env::vars()
        .filter(|(name, _)| name.starts_with("AWS_"))
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    settings.sort();
    let mut key = vec![bucket.to_string(), endpoint()];
    key.extend(settings);
    let mut clients = CLIENTS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(client) = clients.get(&key) {
        return Ok(client.clone());
    }
    // The probe does not retry for minutes: an endpoint that does not
    // answer, or a bucket that refuses, is said at once.
    let probe = s3_client(
        url,
        bucket,
        RetryConfig {
            max_retries: 1,
            retry_timeout: Duration::from_secs(15),
            ..Default::default()
        },
    )?;
    let listed_prefix = object_store::path::Path::from(prefix);
    block_on(probe.list_with_delimiter(Some(&listed_prefix)))
        .map_err(|e| s3_error(url, bucket, e))?;
    let client = Arc::new(s3_client(url, bucket, RetryConfig::default())?);
    clients.insert(key, client.clone());
    Ok(client)
}

/// An S3 error in the user's terms: refused credentials, a missing bucket,
/// an endpoint that does not answer.
fn s3_error(url: &str, bucket: &str, error: object_store::Error) -> IoError {
    let detail = error.to_string();
    let denied = || IoError::PermissionDenied {
        location: url.to_string(),
        reason: format!(
            "{} refused the request: check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and \
             AWS_SESSION_TOKEN) and the bucket's policy ({detail})",
            endpoint()
        ),
    };
    match error {
        object_store::Error::PermissionDenied { .. }
        | object_store::Error::Unauthenticated { .. } => denied(),
        object_store::Error::NotFound { .. } => IoError::NotAStore {
            path: url.to_string(),
            reason: format!("no bucket `{bucket}` at {}", endpoint()),
        },
        _ if detail.contains("NoSuchBucket") => IoError::NotAStore {
            path: url.to_string(),
            reason: format!("no bucket `{bucket}` at {}", endpoint()),
        },
        _ if detail.contains("403 Forbidden") || detail.contains("AccessDenied") => denied(),
        _ if detail.contains("PermanentRedirect")
            || detail.contains("301 Moved")
            || detail.contains("AuthorizationHeaderMalformed") =>
        {
            IoError::NotAStore {
                path: url.to_string(),
                reason: format!(
                    "the bucket `{bucket}` is in another region than AWS_REGION says \
                     ({detail})"
                ),
            }
        }
        // Any other answer: the server is there, and said no.
        _ if detail.contains("non-2xx status code") => IoError::Storage {
            location: url.to_string(),
            message: format!("{} refused the request: {detail}", endpoint()),
        },
        _ => IoError::Storage {
            location: url.to_string(),
            message: format!(
                "cannot reach {} (set AWS_ENDPOINT_URL for an S3-compatible server): {detail}",
                endpoint()
            ),
        },
    }
}
