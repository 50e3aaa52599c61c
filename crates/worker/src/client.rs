//! The outbound HTTP client and its guard against server-side request forgery.
//!
//! Names are resolved by a resolver that drops every address the target policy forbids,
//! so the address a connection is made to is the one that was vetted (a name cannot
//! resolve to a public address when checked and a private one when used). Literal IP
//! hosts are vetted before sending. Redirects are never followed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use faxrelay_core::target::TargetPolicy;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

#[derive(Debug)]
struct GuardedResolver {
    policy: TargetPolicy,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addresses: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = addresses
                .into_iter()
                .filter(|a| policy.permits(a.ip()))
                .collect();
            if allowed.is_empty() {
                return Err(format!("{host} resolves only to addresses deliveries may not reach (private, loopback, link-local or reserved)").into());
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// Why a webhook URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TargetError(pub String);

/// Where a refused address is explained, for self-hosters whose receiver is local.
const OPERATOR_HINT: &str = "the operator of this faxrelay can allow such addresses with FAXRELAY_ALLOW_PRIVATE_TARGETS or FAXRELAY_ALLOWED_TARGETS";

/// The HTTP client deliveries (and token requests) go through.
#[derive(Debug, Clone)]
pub struct GuardedClient {
    client: reqwest::Client,
    policy: TargetPolicy,
}

impl GuardedClient {
    pub fn new(policy: TargetPolicy, timeout: Duration) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .pool_idle_timeout(Duration::from_secs(60))
            .user_agent(concat!("faxrelay/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(GuardedResolver {
                policy: policy.clone(),
            }))
            .build()
            .expect("the HTTP client configuration is valid");
        Self { client, policy }
    }

    /// Checks what can be checked without DNS: the scheme, no credentials in the URL, and
    /// a literal IP host against the policy.
    pub fn check_url(&self, url: &Url) -> Result<(), TargetError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(TargetError("the URL must be http or https".into()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(TargetError(
                "put credentials in `auth`, not in the URL".into(),
            ));
        }
        let ip = match url.host() {
            None => return Err(TargetError("the URL has no host".into())),
            Some(Host::Domain(_)) => return Ok(()),
            Some(Host::Ipv4(ip)) => ip.into(),
            Some(Host::Ipv6(ip)) => ip.into(),
        };
        if self.policy.permits(ip) {
            Ok(())
        } else {
            Err(TargetError(format!(
                "{ip} is a private, loopback, link-local or reserved address ({OPERATOR_HINT})"
            )))
        }
    }

    /// Vets a URL as a webhook target when it is saved: its name must resolve, and only to
    /// addresses the policy allows.
    pub async fn vet(&self, text: &str) -> Result<Url, TargetError> {
        let url = Url::parse(text).map_err(|e| TargetError(format!("not a URL: {e}")))?;
        self.check_url(&url)?;
        if let Some(Host::Domain(name)) = url.host() {
            let port = url.port_or_known_default().unwrap_or(443);
            let addresses: Vec<SocketAddr> = tokio::net::lookup_host((name, port))
                .await
                .map_err(|_| TargetError(format!("{name} does not resolve")))?
                .collect();
            if addresses.is_empty() {
                return Err(TargetError(format!("{name} does not resolve")));
            }
            if let Some(refused) = addresses.iter().find(|a| !self.policy.permits(a.ip())) {
                return Err(TargetError(format!(
                    "{name} resolves to {}, a private, loopback, link-local or reserved address ({OPERATOR_HINT})",
                    refused.ip()
                )));
            }
        }
        Ok(url)
    }

    pub fn inner(&self) -> &reqwest::Client {
        &self.client
    }
}
