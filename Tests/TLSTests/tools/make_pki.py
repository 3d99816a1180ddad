"""Writes the certificates the TLS tests use into the folder given as the only argument.

Every file is made fresh for each test run (nothing is committed): a root CA, an intermediate CA,
server chains (ECDSA P-256 and RSA 2048), client certificates (good, expired, not yet valid, from an
unknown CA, self-signed, a server-only EKU), and malformed or mismatched inputs.
"""
import datetime
import ipaddress
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

out = sys.argv[1]
now = datetime.datetime.now(datetime.timezone.utc)
day = datetime.timedelta(days=1)


def ec_key():
    return ec.generate_private_key(ec.SECP256R1())


def name(*parts):
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in parts])


def issue(subject, key, issuer_name, issuer_key, *, ca=False, sans=(), eku=None, not_before=None, not_after=None):
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - day)
        .not_valid_after(not_after or now + 30 * day)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                          key_encipherment=False, data_encipherment=False, key_agreement=False,
                          encipher_only=False, decipher_only=False), critical=True)
    return builder.sign(issuer_key, hashes.SHA256())


def pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def write(filename, data):
    with open(os.path.join(out, filename), "wb") as f:
        f.write(data)


root_key = ec_key()
root_name = name((NameOID.COMMON_NAME, "Tessera Test Root CA"), (NameOID.ORGANIZATION_NAME, "Tessera Tests"))
root = issue(root_name, root_key, root_name, root_key, ca=True, not_after=now + 365 * day)
inter_key = ec_key()
inter_name = name((NameOID.COMMON_NAME, "Tessera Test Intermediate CA"), (NameOID.ORGANIZATION_NAME, "Tessera Tests"))
inter = issue(inter_name, inter_key, root_name, root_key, ca=True, not_after=now + 300 * day)
write("root.pem", pem(root))
write("intermediate.pem", pem(inter))

server_sans = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
server_eku = [ExtendedKeyUsageOID.SERVER_AUTH]

# ECDSA P-256 server certificate with its intermediate.
key = ec_key()
cert = issue(name((NameOID.COMMON_NAME, "localhost")), key, inter_name, inter_key, sans=server_sans, eku=server_eku)
write("server-ec.pem", pem(cert) + pem(inter))
write("server-ec.key", key_pem(key))
write("server-ec-misordered.pem", pem(inter) + pem(cert))
# The same key, a second certificate (a rotation that keeps the key).
cert2 = issue(name((NameOID.COMMON_NAME, "localhost renewed")), key, inter_name, inter_key, sans=server_sans, eku=server_eku)
write("server-ec-renewed.pem", pem(cert2) + pem(inter))

# RSA 2048 server certificate with its intermediate.
rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
rsa_cert = issue(name((NameOID.COMMON_NAME, "localhost rsa")), rsa_key, inter_name, inter_key, sans=server_sans, eku=server_eku)
write("server-rsa.pem", pem(rsa_cert) + pem(inter))
write("server-rsa.key", key_pem(rsa_key))
# Traditional ("BEGIN EC PRIVATE KEY") encoding of the EC key.
write("server-ec-traditional.key", key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()))
write("server-ec-encrypted.key", key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"secret")))

# Expired server certificate.
expired_key = ec_key()
expired = issue(name((NameOID.COMMON_NAME, "localhost expired")), expired_key, inter_name, inter_key, sans=server_sans,
                not_before=now - 30 * day, not_after=now - day)
write("server-expired.pem", pem(expired) + pem(inter))
write("server-expired.key", key_pem(expired_key))
write("other.key", key_pem(ec_key()))

# Client certificates.
client_eku = [ExtendedKeyUsageOID.CLIENT_AUTH]
client_subject = x509.Name([
    x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COUNTRY_NAME, "DE")]),
    x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example, Inc.")]),
    x509.RelativeDistinguishedName([
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Payments"),
        x509.NameAttribute(NameOID.USER_ID, "svc-7"),
    ]),
    x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COMMON_NAME, "#billing+api ")]),
    x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.EMAIL_ADDRESS, "ops@example.com")]),
])
client_sans = [
    x509.DNSName("billing.example.com"),
    x509.UniformResourceIdentifier("spiffe://tessera.test/billing"),
    x509.IPAddress(ipaddress.ip_address("192.0.2.7")),
    x509.IPAddress(ipaddress.ip_address("2001:db8::1")),
    x509.RFC822Name("billing@example.com"),
]
client_key = ec_key()
client = issue(client_subject, client_key, inter_name, inter_key, sans=client_sans, eku=client_eku)
write("client.pem", pem(client) + pem(inter))
write("client-leaf.pem", pem(client))
write("client.der", client.public_bytes(serialization.Encoding.DER))
write("client.key", key_pem(client_key))

k = ec_key()
write("client-expired.pem", pem(issue(name((NameOID.COMMON_NAME, "expired client")), k, inter_name, inter_key, eku=client_eku,
                                      not_before=now - 30 * day, not_after=now - day)) + pem(inter))
write("client-expired.key", key_pem(k))

k = ec_key()
write("client-future.pem", pem(issue(name((NameOID.COMMON_NAME, "future client")), k, inter_name, inter_key, eku=client_eku,
                                     not_before=now + 10 * day, not_after=now + 20 * day)) + pem(inter))
write("client-future.key", key_pem(k))

k = ec_key()
write("client-server-eku.pem", pem(issue(name((NameOID.COMMON_NAME, "server-only client")), k, inter_name, inter_key,
                                         eku=server_eku)) + pem(inter))
write("client-server-eku.key", key_pem(k))

other_root_key = ec_key()
other_root_name = name((NameOID.COMMON_NAME, "Unknown CA"))
other_root = issue(other_root_name, other_root_key, other_root_name, other_root_key, ca=True)
write("other-root.pem", pem(other_root))
k = ec_key()
write("client-unknown-ca.pem", pem(issue(name((NameOID.COMMON_NAME, "stranger")), k, other_root_name, other_root_key, eku=client_eku)))
write("client-unknown-ca.key", key_pem(k))

k = ec_key()
self_name = name((NameOID.COMMON_NAME, "self-signed client"))
write("client-self-signed.pem", pem(issue(self_name, k, self_name, k, eku=client_eku)))
write("client-self-signed.key", key_pem(k))
k = ec_key()
write("client-self-signed-expired.pem", pem(issue(self_name, k, self_name, k, eku=client_eku,
                                                  not_before=now - 30 * day, not_after=now - day)))
write("client-self-signed-expired.key", key_pem(k))

# What the Swift side must read from client-leaf.pem, computed here independently.
import base64
import hashlib
import json

der = client.public_bytes(serialization.Encoding.DER)
expected = {
    "thumbprint": base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode(),
    "serial": format(client.serial_number, "x"),
    "not_before": int(client.not_valid_before.replace(tzinfo=datetime.timezone.utc).timestamp()),
    "not_after": int(client.not_valid_after.replace(tzinfo=datetime.timezone.utc).timestamp()),
    "spki": client_key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo).hex(),
    "issuer": "O=Tessera Tests,CN=Tessera Test Intermediate CA",
}
write("expected.json", json.dumps(expected).encode())
