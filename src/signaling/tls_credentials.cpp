#include "signaling/tls_credentials.h"

#include <gio/gio.h>
#include <gnutls/x509.h>

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

gnutls_datum_t datum(const std::string& bytes) {
  return {reinterpret_cast<unsigned char*>(const_cast<char*>(bytes.data())), static_cast<unsigned>(bytes.size())};
}

// Each file on its own first, so that the message says which one is wrong.
core::Status checkParses(const std::string& certFile, const std::string& cert, const std::string& keyFile,
                         const std::string& key) {
  const gnutls_datum_t certData = datum(cert), keyData = datum(key);
  gnutls_x509_crt_t* chain = nullptr;
  unsigned count = 0;
  int result = gnutls_x509_crt_list_import2(&chain, &count, &certData, GNUTLS_X509_FMT_PEM, 0);
  if (result < 0)
    return Error{ErrorCode::BadRequest, "cannot parse TLS certificate " + certFile + ": " + gnutls_strerror(result)};
  for (unsigned i = 0; i < count; i++) gnutls_x509_crt_deinit(chain[i]);
  gnutls_free(chain);
  gnutls_x509_privkey_t parsed = nullptr;
  gnutls_x509_privkey_init(&parsed);
  result = gnutls_x509_privkey_import2(parsed, &keyData, GNUTLS_X509_FMT_PEM, nullptr, 0);
  gnutls_x509_privkey_deinit(parsed);
  if (result < 0) return Error{ErrorCode::BadRequest, "cannot parse TLS key " + keyFile + ": " + gnutls_strerror(result)};
  return core::Ok{};
}

}  // namespace

core::Result<ServerCredentials> loadServerCredentials(const std::string& certFile, const std::string& keyFile) {
  auto cert = readFile("certificate", certFile);
  if (!cert) return cert.error();
  auto key = readFile("key", keyFile);
  if (!key) return key.error();
  if (auto parsed = checkParses(certFile, cert.value(), keyFile, key.value()); !parsed) return parsed.error();
  gnutls_certificate_credentials_t raw = nullptr;
  if (gnutls_certificate_allocate_credentials(&raw) != GNUTLS_E_SUCCESS)
    return Error{ErrorCode::Internal, "cannot load the TLS certificate: out of memory"};
  ServerCredentials credentials(raw, &gnutls_certificate_free_credentials);
  const gnutls_datum_t certData = datum(cert.value()), keyData = datum(key.value());
  const int result = gnutls_certificate_set_x509_key_mem2(raw, &certData, &keyData, GNUTLS_X509_FMT_PEM, nullptr, 0);
  if (result == GNUTLS_E_CERTIFICATE_KEY_MISMATCH)
    return Error{ErrorCode::BadRequest, "the TLS key " + keyFile + " does not belong to the certificate " + certFile};
  if (result < 0)
    return Error{ErrorCode::BadRequest, "cannot use TLS certificate " + certFile + " with key " + keyFile + ": " +
                                            gnutls_strerror(result)};
  return credentials;
}

TlsCredentials::TlsCredentials(Passkey, std::string certFile, std::string keyFile, ServerCredentials current)
    : certFile_(std::move(certFile)), keyFile_(std::move(keyFile)), current_(std::move(current)) {}

core::Result<std::unique_ptr<TlsCredentials>> TlsCredentials::load(const std::string& certFile, const std::string& keyFile) {
  auto credentials = loadServerCredentials(certFile, keyFile);
  if (!credentials) return credentials.error();
  return std::make_unique<TlsCredentials>(Passkey(), certFile, keyFile, std::move(credentials.value()));
}

core::Status TlsCredentials::reload() {
  auto credentials = loadServerCredentials(certFile_, keyFile_);
  if (!credentials) return credentials.error();
  current_ = std::move(credentials.value());  // connections under way keep the old ones
  return core::Ok{};
}

}  // namespace roomcast::signaling
