// Receive django-xunchen webhooks: check the signature, then act on the event.
//
//	XUNCHEN_WEBHOOK_SECRET=whsec_… go run receiver.go
//
// Each POST's body is an event, {"id": …, "type": "message.delivered", "created": …,
// "data": {…}}, signed in the X-Xunchen-Signature header: t=<unix time>,v1=<hex
// HMAC-SHA256> of "<t>." followed by the body, under the endpoint's secret. Verify the
// raw bytes before parsing them. Answer 2xx quickly; anything else, or no answer within
// the timeout, is retried later. A retry carries the same event id: keep the ids you
// have handled and skip them.
package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

const (
	defaultTolerance = 300 * time.Second
	maxBody          = 1 << 20
)

type event struct {
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Created string          `json:"created"`
	Data    json.RawMessage `json:"data"`
}

// verify returns the event in body if header signs it with secret within tolerance
// of now.
func verify(secret string, body []byte, header string, tolerance time.Duration) (*event, error) {
	var timestamps, signatures []string
	for _, item := range strings.Split(header, ",") {
		key, value, _ := strings.Cut(strings.TrimSpace(item), "=")
		switch key {
		case "t":
			timestamps = append(timestamps, value)
		case "v1":
			signatures = append(signatures, value)
		}
	}
	if len(timestamps) != 1 || !isDigits(timestamps[0]) {
		return nil, errors.New("malformed signature header")
	}
	timestamp, err := strconv.ParseInt(timestamps[0], 10, 64)
	if err != nil {
		return nil, errors.New("malformed signature header")
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(timestamp, 10) + "."))
	mac.Write(body)
	expected := []byte(hex.EncodeToString(mac.Sum(nil)))
	matched := false
	for _, signature := range signatures {
		if hmac.Equal(expected, []byte(signature)) {
			matched = true
		}
	}
	if !matched {
		return nil, errors.New("no valid signature")
	}
	age := time.Since(time.Unix(timestamp, 0))
	if age > tolerance || age < -tolerance {
		return nil, errors.New("signature too old, or the clocks differ")
	}
	var received event
	if err := json.Unmarshal(body, &received); err != nil {
		return nil, err
	}
	return &received, nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func receiver(secret string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		received, err := verify(secret, body, r.Header.Get("X-Xunchen-Signature"), defaultTolerance)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		log.Printf("%s %s %s", received.ID, received.Type, received.Data)
		w.WriteHeader(http.StatusNoContent)
	}
}

func main() {
	secret := os.Getenv("XUNCHEN_WEBHOOK_SECRET")
	if secret == "" {
		log.Fatal("set XUNCHEN_WEBHOOK_SECRET")
	}
	server := &http.Server{
		Addr:              ":8000",
		Handler:           receiver(secret),
		ReadHeaderTimeout: 10 * time.Second,
	}
	log.Fatal(server.ListenAndServe())
}
