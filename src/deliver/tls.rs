//! TLS: which certificate authorities luota trusts for `https://`.
//!
//! Ordinary deliveries, setup calls, checks, the deploy-SHA URL and `send`
//! use reqwest's rustls with the public (webpki) roots, plus the target's
//! `ca_file` (or `send --ca-file`) through [`trust_extra_ca`].
//! A `together` group opens its own connections with hyper's connection
//! API, so it needs the same trust set up by hand: the same rustls, the same
//! webpki roots, plus the target's `ca_file` (a staging CA) when it has one.
//! The TLS handshake happens while the connection is opened, before the
//! release; only the encrypted request waits in the cork.

use std::sync::{Arc, OnceLock};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

/// The client config: webpki roots, plus every certificate in `extra_ca_pem`.
pub fn client_config(extra_ca_pem: Option<&[u8]>) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(pem) = extra_ca_pem {
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(pem_error)?;
            roots
                .add(cert)
                .map_err(|e| format!("not a usable CA certificate: {e}"))?;
            added += 1;
        }
        if added == 0 {
            // DER starts with an ASN.1 SEQUENCE (0x30); PEM is text.
            if pem.first() == Some(&0x30) {
                return Err(
                    "this looks like a DER (binary) certificate; convert it to PEM with \
                     `openssl x509 -inform DER -in FILE -out FILE.pem` and name the .pem"
                        .into(),
                );
            }
            return Err("no PEM certificate (-----BEGIN CERTIFICATE-----) in it".into());
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A PEM parse error in words (rustls lists the missing marker as bytes).
fn pem_error(e: rustls::pki_types::pem::Error) -> String {
    use rustls::pki_types::pem::Error;
    match e {
        Error::MissingSectionEnd { end_marker } => format!(
            "a damaged PEM block: `-----END {}-----` is missing (a cut or truncated file?)",
            String::from_utf8_lossy(&end_marker).trim()
        ),
        Error::IllegalSectionStart { line } => format!(
            "a damaged PEM block: a bad `-----BEGIN` line `{}`",
            String::from_utf8_lossy(&line).trim()
        ),
        Error::Base64Decode(_) => {
            "a damaged PEM block: its base64 does not decode (a stray or missing character?)"
                .to_string()
        }
        other => format!("not a PEM certificate: {other}"),
    }
}

/// Add every certificate of `extra_ca_pem` (a `ca_file`) to a reqwest
/// client's roots, so the same staging CA is trusted by every request.
pub fn trust_extra_ca(
    mut builder: reqwest::ClientBuilder,
    extra_ca_pem: Option<&[u8]>,
) -> Result<reqwest::ClientBuilder, String> {
    if let Some(pem) = extra_ca_pem {
        for cert in reqwest::Certificate::from_pem_bundle(pem).map_err(|e| e.to_string())? {
            builder = builder.add_root_certificate(cert);
        }
    }
    Ok(builder)
}

/// The config with the public roots only (shared).
pub fn public_roots() -> Arc<ClientConfig> {
    static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| client_config(None).expect("the public roots make a valid config"))
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_without_certificates_is_a_clear_error() {
        let e = client_config(Some(b"just text\n")).unwrap_err();
        assert!(e.contains("no PEM certificate"), "{e}");
        assert!(client_config(None).is_ok());
    }
}
