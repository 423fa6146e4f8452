package client

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// SignatureHeader is the request header in which DocSpace and hookd sign a delivery's body.
const SignatureHeader = "x-docspace-signature-256"

// VerifySignature reports whether header, the value of the x-docspace-signature-256 header of
// a delivery, is "sha256=" followed by the hex HMAC-SHA256 of body keyed with secret. The hex
// is compared case-insensitively (DocSpace sends upper case) and in constant time. body must
// be the raw bytes as received, before any JSON parsing.
func VerifySignature(secret string, body []byte, header string) bool {
	const prefix = "sha256="
	if len(header) < len(prefix) || !strings.EqualFold(header[:len(prefix)], prefix) {
		return false
	}
	got, err := hex.DecodeString(strings.TrimSpace(header[len(prefix):]))
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}
