// Excerpt of mozilla-services/autopush-rs tag 1.83.1 (commit 4ebe2624c02b),
// autoendpoint/src/settings.rs lines 19-107 (the Settings struct), 169 (the
// environment source) and 196-238 (how the key lists are read).
// MPL-2.0, kept unchanged as test data: tests/test_rs_settings.py reads it.
pub const ENV_PREFIX: &str = "autoend";

#[serde_as]
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Endpoint URL scheme
    pub scheme: String,
    /// Endpoint URL host
    pub host: String,
    /// Endpoint URL port
    pub port: u16,
    /// Endpoint URL. If this is set, it will override the `scheme`, `host`, and `port` settings.
    pub endpoint_url: String,

    /// The DSN to connect to the storage engine (Used to select between storage systems)
    pub db_dsn: Option<String>,
    /// JSON set of specific database settings (See data storage engines)
    pub db_settings: String,

    /// The router table name to use in the database (legacy, will be removed in the future)
    pub router_table_name: String,
    /// The message table name to use in the database (legacy, will be removed in the future)
    pub message_table_name: String,

    /// A stringified JSON list of VAPID public keys which should be tracked internally.
    /// This should ONLY include Mozilla generated and consumed messages (e.g. "SendToTab", etc.)
    /// These keys should be specified in stripped, b64encoded, X962 format (e.g. a single line of
    /// base64 encoded data without padding).
    /// You can use `scripts/convert_pem_to_x962.py` to easily convert EC Public keys stored in
    /// PEM format into appropriate x962 format.
    pub tracking_keys: String,

    /// The max size of notification data in bytes.
    pub max_data_bytes: usize,
    /// The cryptographic keys to use to encode the endpoint URL. NOTE: this _must_ match the keys
    /// specified for autoconnect.
    pub crypto_keys: String,
    /// The key to use to generate the client Auth token for channel management endpoints.
    pub auth_keys: String,
    /// Whether to include human readable logs in the output.
    pub human_logs: bool,
    /// Number of log records to buffer before dropping them. Records are dropped
    /// when the buffer is full, and each drop emits an ERROR level overflow
    /// report, so this should comfortably exceed the peak logging rate. 0 uses
    /// the default.
    pub log_chan_size: usize,

    /// Bridge connection timeout in milliseconds.
    pub connection_timeout_millis: u64,
    /// Bridge request timeout in milliseconds.
    pub request_timeout_millis: u64,
    /// Maximum idle connections per host in the HTTP connection pool.
    pub pool_max_idle_per_host: usize,
    /// Idle connection timeout in seconds.
    pub pool_idle_timeout_secs: u64,

    /// The host for the statsd server to send metrics to. If None, metrics will not be sent.
    pub statsd_host: Option<String>,
    /// The port for the statsd server to send metrics to.
    pub statsd_port: u16,
    /// The label to use for statsd metrics.
    pub statsd_label: String,

    /// Do not report errors to sentry, instead log them to STDERR.
    pub disable_sentry: bool,

    /// FCM bridge settings
    pub fcm: FcmSettings,
    /// APNS bridge settings
    pub apns: ApnsSettings,
    #[cfg(feature = "stub")]
    /// "Stub" is a predictable Mock bridge that allows us to "send" data and return an expected
    /// result.
    pub stub: StubSettings,
    #[cfg(feature = "reliable_report")]
    /// The DNS for the reliability data store. This is normally a Redis compatible
    /// storage system. See [Connection Parameters](https://docs.rs/redis/latest/redis/#connection-parameters)
    /// for details.
    pub reliability_dsn: Option<String>,
    #[cfg(feature = "reliable_report")]
    /// Max number of retries reliability transactions into Redis
    pub reliability_retry_count: usize,
    /// Max Notification Lifespan
    #[serde_as(as = "serde_with::DurationSeconds<u64>")]
    pub max_notification_ttl: Duration,
    /// Path to read kubernetes internal memory information.
    pub kubernetes_memory_path: Option<String>,
}
        config = config.add_source(Environment::with_prefix(ENV_PREFIX).separator("__"));

    /// Convert a string like `[item1,item2]` into a iterator over `item1` and `item2`.
    /// Panics with a custom message if the string is not in the expected form.
    fn read_list_from_str<'list>(
        list_str: &'list str,
        panic_msg: &'static str,
    ) -> impl Iterator<Item = &'list str> {
        if !(list_str.starts_with('[') && list_str.ends_with(']')) {
            panic!("{}", panic_msg);
        }

        let items = &list_str[1..list_str.len() - 1];
        items.split(',')
    }

    /// Initialize the fernet encryption instance
    pub fn make_fernet(&self) -> MultiFernet {
        let keys = &self.crypto_keys.replace(['"', ' '], "");
        let fernets = Self::read_list_from_str(keys, "Invalid AUTOEND_CRYPTO_KEYS")
            .map(|key| {
                debug!("🔐 Fernet keys: {:?}", &key);
                Fernet::new(key).expect("Invalid AUTOEND_CRYPTO_KEYS")
            })
            .collect();
        MultiFernet::new(fernets)
    }

    /// Get the list of auth hash keys
    pub fn auth_keys(&self) -> Vec<String> {
        let keys = &self.auth_keys.replace(['"', ' '], "");
        Self::read_list_from_str(keys, "Invalid AUTOEND_AUTH_KEYS")
            .map(|v| v.to_owned())
            .collect()
    }
    /// Validate at least one usable (non-empty) auth key is configured.
    fn validate_auth_keys(&self) -> Result<(), ConfigError> {
        if self.auth_keys().iter().all(|key| key.is_empty()) {
            return Err(ConfigError::Message(
                "AUTOEND__AUTH_KEYS must contain at least one non-empty key".to_owned(),
            ));
        }
        Ok(())
    }
