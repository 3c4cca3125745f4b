#include "signaling/tls_credentials.h"

#include <gnutls/gnutls.h>

#include <utility>

namespace roomcast::signaling {

using core::Error;
using core::ErrorCode;

namespace {

core::Result<std::string> readFile(const char* what, const std::string& path) {
  g_autofree char* contents = nullptr;
  gsize length = 0;
  g_autoptr(GError) error = nullptr;
  if (!g_file_get_contents(path.c_str(), &contents, &length, &error))
    return Error{ErrorCode::BadRequest, std::string("cannot read TLS ") + what + " " + path + ": " + error->message};
  return std::string(contents, length);
}

// GnuTLS refuses a key that does not belong to the certificate (GNUTLS_E_CERTIFICATE_KEY_MISMATCH).
core::Status checkPair(const std::string& certFile, const std::string& cert, const std::string& keyFile,
                       const std::string& key) {
  gnutls_certificate_credentials_t credentials = nullptr;
  if (gnutls_certificate_allocate_credentials(&credentials) != GNUTLS_E_SUCCESS)
    return Error{ErrorCode::Internal, "cannot check the TLS key: out of memory"};
  const gnutls_datum_t certData{reinterpret_cast<unsigned char*>(const_cast<char*>(cert.data())),
                                static_cast<unsigned>(cert.size())};
  const gnutls_datum_t keyData{reinterpret_cast<unsigned char*>(const_cast<char*>(key.data())),
                               static_cast<unsigned>(key.size())};
  const int result = gnutls_certificate_set_x509_key_mem2(credentials, &certData, &keyData, GNUTLS_X509_FMT_PEM,
                                                          nullptr, 0);
  gnutls_certificate_free_credentials(credentials);
  if (result >= 0) return core::Ok{};
  if (result == GNUTLS_E_CERTIFICATE_KEY_MISMATCH)
    return Error{ErrorCode::BadRequest, "the TLS key " + keyFile + " does not belong to the certificate " + certFile};
  return Error{ErrorCode::BadRequest, "cannot use TLS certificate " + certFile + " with key " + keyFile + ": " +
                                          gnutls_strerror(result)};
}

}  // namespace

core::Result<GTlsCertificate*> loadTlsCertificate(const std::string& certFile, const std::string& keyFile) {
  if (!g_tls_backend_supports_tls(g_tls_backend_get_default()))
    return Error{ErrorCode::Internal, "GIO has no TLS backend here (install glib-networking)"};
  auto cert = readFile("certificate", certFile);
  if (!cert) return cert.error();
  auto key = readFile("key", keyFile);
  if (!key) return key.error();
  g_autoptr(GError) error = nullptr;
  GTlsCertificate* certificate = g_tls_certificate_new_from_pem(cert->c_str(), static_cast<gssize>(cert->size()), &error);
  if (!certificate)
    return Error{ErrorCode::BadRequest, "cannot parse TLS certificate " + certFile + ": " + error->message};
  g_object_unref(certificate);
  // The certificate (and any chain after it) and the key, as one PEM: GIO pairs them.
  const std::string both = cert.value() + "\n" + key.value();
  certificate = g_tls_certificate_new_from_pem(both.c_str(), static_cast<gssize>(both.size()), &error);
  if (!certificate) return Error{ErrorCode::BadRequest, "cannot parse TLS key " + keyFile + ": " + error->message};
  if (auto paired = checkPair(certFile, cert.value(), keyFile, key.value()); !paired) {
    g_object_unref(certificate);
    return paired.error();
  }
  return certificate;
}

TlsCredentials::TlsCredentials(std::string certFile, std::string keyFile, GTlsCertificate* certificate)
    : certFile_(std::move(certFile)), keyFile_(std::move(keyFile)), certificate_(certificate) {}

TlsCredentials::~TlsCredentials() { g_object_unref(certificate_); }

core::Result<std::unique_ptr<TlsCredentials>> TlsCredentials::load(const std::string& certFile, const std::string& keyFile) {
  auto certificate = loadTlsCertificate(certFile, keyFile);
  if (!certificate) return certificate.error();
  return std::unique_ptr<TlsCredentials>(new TlsCredentials(certFile, keyFile, certificate.value()));
}

core::Status TlsCredentials::reload() {
  auto certificate = loadTlsCertificate(certFile_, keyFile_);
  if (!certificate) return certificate.error();
  // Connections in progress hold their own reference to the old one.
  g_object_unref(std::exchange(certificate_, certificate.value()));
  return core::Ok{};
}

}  // namespace roomcast::signaling
