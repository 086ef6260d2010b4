// Send an order's notice through the django-xunchen HTTP API, safe to retry.
//
//	XUNCHEN_API_URL=https://sms.example.com/sms/api XUNCHEN_API_KEY=xc_… go run send.go
//
// The Idempotency-Key is made from the order: a retry after a timeout or a dropped
// connection sends nothing more, the API answers with the first request's messages.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"os"
	"strings"
	"time"
)

type sendRequest struct {
	Mobile   string         `json:"mobile"`
	Content  string         `json:"content"`
	Kind     string         `json:"kind"`
	Tags     []string       `json:"tags,omitempty"`
	Metadata map[string]any `json:"metadata,omitempty"`
}

type message struct {
	ID     int64  `json:"id"`
	Mobile string `json:"mobile"`
	Status string `json:"status"`
}

type apiError struct {
	Error struct {
		Code    string         `json:"code"`
		Message string         `json:"message"`
		Details map[string]any `json:"details"`
	} `json:"error"`
}

func sendOrderNotice(client *http.Client, api, key string, order int, mobile string) ([]message, error) {
	body, err := json.Marshal(sendRequest{
		Mobile:   mobile,
		Content:  fmt.Sprintf("您的订单 %d 已发货", order),
		Kind:     "notification",
		Tags:     []string{"orders"},
		Metadata: map[string]any{"order": order},
	})
	if err != nil {
		return nil, err
	}
	idempotencyKey := fmt.Sprintf("order-%d-shipped", order)
	for attempt := 0; attempt < 5; attempt++ {
		if attempt > 0 {
			time.Sleep(time.Duration(1<<attempt) * time.Second)
		}
		req, err := http.NewRequest(http.MethodPost, api+"/v1/messages", bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", idempotencyKey)
		resp, err := client.Do(req)
		if err != nil {
			continue // the same key again: at most one SMS goes out
		}
		if resp.StatusCode == http.StatusCreated {
			var answer struct {
				Messages []message `json:"messages"`
			}
			err = json.NewDecoder(resp.Body).Decode(&answer)
			resp.Body.Close()
			return answer.Messages, err
		}
		var refused apiError
		decodeErr := json.NewDecoder(resp.Body).Decode(&refused)
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests || refused.Error.Code == "in_progress" ||
			(decodeErr != nil && resp.StatusCode >= 500) {
			continue
		}
		return nil, fmt.Errorf("%d %s: %s", resp.StatusCode, refused.Error.Code, refused.Error.Message)
	}
	return nil, fmt.Errorf("the SMS API did not answer")
}

func main() {
	api := strings.TrimRight(os.Getenv("XUNCHEN_API_URL"), "/")
	key := os.Getenv("XUNCHEN_API_KEY")
	client := &http.Client{Timeout: 30 * time.Second}
	sent, err := sendOrderNotice(client, api, key, 1042, "13800138000")
	if err != nil {
		log.Fatal(err)
	}
	for _, m := range sent {
		fmt.Printf("order 1042: message %d to %s %s\n", m.ID, m.Mobile, m.Status)
	}
}
