"""Verifies JWS tokens Tessera signed, with independent libraries, against the JWKS
fetched over HTTP from the running server.

usage: verify_jws.py JWKS_URL TOKENS_JSON
TOKENS_JSON is a list of {"token": ..., "alg": ..., "valid": bool}. Each token must
verify with both PyJWT and jwcrypto exactly when "valid" is true. Prints one line per
token and exits non-zero on any disagreement.
"""
import json
import sys

import jwt
import requests
from jwcrypto import jwk, jws


def main():
    jwks_url, tokens_file = sys.argv[1], sys.argv[2]
    document = requests.get(jwks_url, timeout=10).json()
    keyset = jwk.JWKSet.from_json(json.dumps(document))
    pyjwt_client = jwt.PyJWKSet.from_dict(document)
    failures = 0
    for case in json.load(open(tokens_file)):
        token, alg, expected = case["token"], case["alg"], case["valid"]
        header = jwt.get_unverified_header(token)
        # PyJWT: select the key by kid and verify with the key's own algorithm only.
        try:
            key = next(k for k in pyjwt_client.keys if k.key_id == header.get("kid"))
            jwt.decode(token, key=key.key, algorithms=[alg], options={"verify_aud": False, "verify_exp": False})
            pyjwt_ok = True
        except Exception:
            pyjwt_ok = False
        # jwcrypto: verify against the whole published set.
        try:
            obj = jws.JWS()
            obj.deserialize(token)
            obj.verify(keyset.get_key(header.get("kid")), alg=alg)
            jwcrypto_ok = True
        except Exception:
            jwcrypto_ok = False
        ok = pyjwt_ok == expected and jwcrypto_ok == expected
        failures += 0 if ok else 1
        print(f"{'ok  ' if ok else 'FAIL'} {alg} expected={expected} pyjwt={pyjwt_ok} jwcrypto={jwcrypto_ok}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
