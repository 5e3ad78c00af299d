//! Loading the token keys a node needs: the verifying JWKS (inline, from a file, or from a URL)
//! and, for `--rest`, the signing key.

use parley_shared::auth::{KeyError, Signer, Verifier};

/// Key configuration problems.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    /// A key is malformed.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// Reading the JWKS file failed.
    #[error("reading PARLEY_JWKS file {0}: {1}")]
    File(String, std::io::Error),
    /// Fetching PARLEY_JWKS_URL failed.
    #[error("fetching PARLEY_JWKS_URL: {0}")]
    Fetch(String),
    /// Nothing to verify tokens with.
    #[error("no verifying keys: set PARLEY_JWKS, PARLEY_JWKS_URL or PARLEY_JWT_SIGNING_KEY")]
    Missing,
    /// `--rest` without a signing key.
    #[error("--rest needs PARLEY_JWT_SIGNING_KEY (create one with `parley-node keygen`)")]
    NoSigningKey,
}

/// The keys of a node.
pub struct Keys {
    /// Verifies access tokens.
    pub verifier: Verifier,
    /// Signs them, when serving REST auth.
    pub signer: Option<Signer>,
}

/// Builds the node's keys. Every configured source contributes verifying keys, so a fleet can
/// rotate: publish the new key in the JWKS first, then switch the signer.
pub async fn load(
    jwks: Option<&str>,
    jwks_url: Option<&str>,
    signing_key: Option<&str>,
    need_signer: bool,
) -> Result<Keys, KeysError> {
    let signer = signing_key.map(Signer::from_encoded).transpose()?;
    if need_signer && signer.is_none() {
        return Err(KeysError::NoSigningKey);
    }
    let mut docs: Vec<serde_json::Value> = Vec::new();
    if let Some(j) = jwks {
        let text = if j.trim_start().starts_with('{') {
            j.to_owned()
        } else {
            std::fs::read_to_string(j).map_err(|e| KeysError::File(j.to_owned(), e))?
        };
        docs.push(serde_json::from_str(&text).map_err(|e| KeyError::BadJwks(e.to_string()))?);
    }
    if let Some(url) = jwks_url {
        let doc = reqwest::get(url)
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| KeysError::Fetch(e.to_string()))?
            .json::<serde_json::Value>()
            .await
            .map_err(|e| KeysError::Fetch(e.to_string()))?;
        docs.push(doc);
    }
    if let Some(s) = &signer {
        docs.push(s.jwks());
    }
    let keys: Vec<serde_json::Value> =
        docs.iter().filter_map(|d| d.get("keys").and_then(|k| k.as_array())).flatten().cloned().collect();
    if keys.is_empty() {
        return Err(KeysError::Missing);
    }
    let verifier = Verifier::from_jwks(&serde_json::json!({ "keys": keys }).to_string())?;
    Ok(Keys { verifier, signer })
}
