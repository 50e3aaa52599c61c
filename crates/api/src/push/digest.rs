//! HTTP Digest (RFC 7616) for pushes, server side.
//!
//! No crate implements this side, so here it is. Nonces are stateless and signed: the
//! issue time, 96 random bits and a MAC binding both to the tenant, so any faxrelay process
//! can check a nonce another one issued. A nonce older than the TTL is answered with a
//! fresh challenge and `stale=true` (the credentials were right, only the nonce is old).
//! Each (nonce, nonce count) pair is recorded in the database, so a replayed request is
//! refused even when it reaches another process.

use std::collections::HashMap;

use actix_web::HttpRequest;
use actix_web::http::header;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeZone, Utc};
use faxrelay_core::crypto::{constant_time_eq, random_bytes};
use faxrelay_core::ids::PushCredentialId;
use faxrelay_core::push_auth::{DigestAlgorithm, REALM};
use faxrelay_storage::push::PushTarget;

use crate::problem::ApiError;
use crate::state::AppState;

const NONCE_RANDOM: usize = 12;
const NONCE_MAC: usize = 16;
const NONCE_LEN: usize = 8 + NONCE_RANDOM + NONCE_MAC;
/// The longest Authorization header read; real ones are a few hundred bytes.
const MAX_HEADER: usize = 4096;

/// A fresh nonce for `tenant`, issued at `now`.
fn issue_nonce(state: &AppState, target: &PushTarget, now: DateTime<Utc>) -> String {
    let mut nonce = now.timestamp_millis().to_be_bytes().to_vec();
    nonce.extend_from_slice(&random_bytes(NONCE_RANDOM));
    let mac = nonce_mac(state, target, &nonce);
    nonce.extend_from_slice(&mac);
    URL_SAFE_NO_PAD.encode(nonce)
}

fn nonce_mac(state: &AppState, target: &PushTarget, material: &[u8]) -> [u8; NONCE_MAC] {
    let mut input = target.tenant.id.as_uuid().as_bytes().to_vec();
    input.extend_from_slice(material);
    let mac = state.push_keys.nonce_mac(&input);
    mac[..NONCE_MAC]
        .try_into()
        .expect("MAC is longer than its prefix")
}

/// When a nonce of this tenant was issued, if it is one of ours and untampered.
fn nonce_issued_at(state: &AppState, target: &PushTarget, nonce: &str) -> Option<DateTime<Utc>> {
    let bytes = URL_SAFE_NO_PAD.decode(nonce).ok()?;
    if bytes.len() != NONCE_LEN {
        return None;
    }
    let (material, mac) = bytes.split_at(8 + NONCE_RANDOM);
    if !constant_time_eq(nonce_mac(state, target, material), mac) {
        return None;
    }
    let millis = i64::from_be_bytes(material[..8].try_into().ok()?);
    Utc.timestamp_millis_opt(millis).single()
}

/// An opaque value per tenant, echoed by clients.
fn opaque(state: &AppState, target: &PushTarget) -> String {
    hex::encode(nonce_mac(state, target, b"opaque"))
}

/// One challenge per allowed algorithm, strongest first (RFC 7616 section 3.7).
fn challenges(state: &AppState, target: &PushTarget, stale: bool) -> Vec<String> {
    let nonce = issue_nonce(state, target, Utc::now());
    let opaque = opaque(state, target);
    target
        .tenant
        .digest_algorithms
        .iter()
        .map(|algorithm| {
            let mut challenge = format!(
                r#"Digest realm="{REALM}", qop="auth", algorithm={}, nonce="{nonce}", opaque="{opaque}""#,
                algorithm.as_str()
            );
            if stale {
                challenge.push_str(", stale=true");
            }
            challenge
        })
        .collect()
}

fn refuse(state: &AppState, target: &PushTarget, detail: &str, stale: bool) -> ApiError {
    ApiError::Unauthorized {
        detail: detail.to_owned(),
        challenges: challenges(state, target, stale),
    }
}

/// Reads the auth-params of a `Digest` credentials header: `name=token` or
/// `name="quoted \"string\""`, separated by commas.
fn parse_params(text: &str) -> Option<HashMap<String, String>> {
    let mut params = HashMap::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            return Some(params);
        }
        let equals = rest.find('=')?;
        let name = rest[..equals].trim().to_ascii_lowercase();
        rest = rest[equals + 1..].trim_start();
        let value;
        if let Some(quoted) = rest.strip_prefix('"') {
            let mut out = String::new();
            let mut chars = quoted.char_indices();
            let mut end = None;
            while let Some((index, c)) = chars.next() {
                match c {
                    '\\' => out.push(chars.next()?.1),
                    '"' => {
                        end = Some(index);
                        break;
                    }
                    c => out.push(c),
                }
            }
            rest = &quoted[end? + 1..];
            value = out;
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            value = rest[..end].trim().to_owned();
            rest = &rest[end..];
        }
        params.insert(name, value);
    }
}

/// Whether the `uri` parameter names this request: its path and query, or the whole URL.
fn uri_matches(request: &HttpRequest, uri: &str) -> bool {
    let path_and_query = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
    if uri == path_and_query {
        return true;
    }
    url::Url::parse(uri).is_ok_and(|url| {
        let mut own = url.path().to_owned();
        if let Some(query) = url.query() {
            own.push('?');
            own.push_str(query);
        }
        own == path_and_query
    })
}

pub(super) async fn verify(
    state: &AppState,
    request: &HttpRequest,
    target: &PushTarget,
) -> Result<PushCredentialId, ApiError> {
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .filter(|value| value.len() <= MAX_HEADER)
        .and_then(|value| value.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("digest"));
    let Some((_, params)) = header else {
        return Err(refuse(
            state,
            target,
            "this push URL needs HTTP Digest authentication",
            false,
        ));
    };
    let params = parse_params(params)
        .ok_or_else(|| refuse(state, target, "the Digest credentials are malformed", false))?;
    let param = |name: &str| params.get(name).map(String::as_str);
    let required = |name: &'static str| {
        param(name).ok_or_else(|| {
            refuse(
                state,
                target,
                &format!("the Digest credentials lack `{name}`"),
                false,
            )
        })
    };
    let (username, nonce, uri, response, nc, cnonce) = (
        required("username")?,
        required("nonce")?,
        required("uri")?,
        required("response")?,
        required("nc")?,
        required("cnonce")?,
    );

    if param("realm") != Some(REALM) {
        return Err(refuse(state, target, "the realm is wrong", false));
    }
    if param("qop") != Some("auth") {
        return Err(refuse(state, target, "only qop=auth is supported", false));
    }
    let algorithm: DigestAlgorithm = param("algorithm")
        .unwrap_or("MD5")
        .parse()
        .ok()
        .filter(|algorithm| target.tenant.digest_algorithms.contains(algorithm))
        .ok_or_else(|| refuse(state, target, "this algorithm is not offered", false))?;
    if !uri_matches(request, uri) {
        return Err(refuse(
            state,
            target,
            "the digest uri does not match the request",
            false,
        ));
    }
    if param("opaque").is_some_and(|value| value != opaque(state, target)) {
        return Err(refuse(state, target, "the opaque value is wrong", false));
    }
    if nc.len() != 8
        || !nc.bytes().all(|b| b.is_ascii_hexdigit())
        || cnonce.is_empty()
        || cnonce.len() > 256
    {
        return Err(refuse(
            state,
            target,
            "the nonce count or client nonce is malformed",
            false,
        ));
    }
    let issued_at = nonce_issued_at(state, target, nonce).ok_or_else(|| {
        refuse(
            state,
            target,
            "the nonce was not issued for this push URL",
            false,
        )
    })?;

    let ha2 = algorithm.hex(&format!("{}:{uri}", request.method()));
    let mut matched = None;
    for credential in &target.credentials {
        let ha1 = match algorithm {
            DigestAlgorithm::Md5 => credential.stored.ha1_md5.as_deref(),
            DigestAlgorithm::Sha256 => credential.stored.ha1_sha256.as_deref(),
        };
        let Some(ha1) = ha1 else { continue };
        let expected = algorithm.hex(&format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"));
        let user_matches = credential
            .principal
            .as_deref()
            .is_some_and(|p| constant_time_eq(p, username));
        if user_matches & constant_time_eq(expected, response.to_ascii_lowercase()) {
            matched = Some(credential.id);
        }
    }
    let credential = matched
        .ok_or_else(|| refuse(state, target, "the user name or password is wrong", false))?;

    let expires_at = issued_at + state.push_keys.nonce_ttl;
    if Utc::now() >= expires_at {
        return Err(refuse(
            state,
            target,
            "the nonce has expired; retry with the fresh one",
            true,
        ));
    }
    if !state.store.record_nonce_use(nonce, nc, expires_at).await? {
        return Err(refuse(
            state,
            target,
            "this nonce and nonce count were used before",
            false,
        ));
    }
    Ok(credential)
}

#[cfg(test)]
mod tests {
    use super::parse_params;

    #[test]
    fn auth_params_parse_with_quotes_escapes_and_tokens() {
        let params = parse_params(
            r#"username="Mu\"fasa", realm="faxrelay",nc=00000001, qop=auth , uri="/push/a,b""#,
        )
        .expect("parses");
        assert_eq!(params["username"], "Mu\"fasa");
        assert_eq!(params["nc"], "00000001");
        assert_eq!(params["qop"], "auth");
        assert_eq!(params["uri"], "/push/a,b");
    }

    #[test]
    fn unterminated_quotes_are_malformed() {
        assert_eq!(parse_params(r#"username="open"#), None);
        assert_eq!(parse_params("novalue"), None);
    }
}
