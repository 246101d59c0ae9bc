// A cross-check driver over the vendor's WeChat Pay Go SDK (github.com/wechatpay-apiv3/wechatpay-go): our own
// program, which lets the vendor's code judge ours. It reads one JSON request on stdin and writes one JSON answer.
//
//	parse-notify  the SDK's notify handler verifies and decrypts a notification we produced (as our emulator will),
//	              with a platform certificate or a "WeChat Pay public key"
//	sign-request  the SDK's signer makes a merchant Authorization header, for our verifier to check
//
// Used by test/unit/wechatpay-crosscheck.test.ts; built there with the project's Go module cache.
package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"

	"github.com/wechatpay-apiv3/wechatpay-go/core"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/credentials"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/signers"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/verifiers"
	"github.com/wechatpay-apiv3/wechatpay-go/core/notify"
	"github.com/wechatpay-apiv3/wechatpay-go/utils"
)

type request struct {
	Command string `json:"command"`
	// parse-notify
	APIv3Key       string            `json:"apiV3Key"`
	CertificatePem string            `json:"certificatePem"`
	PublicKeyID    string            `json:"publicKeyId"`
	PublicKeyPem   string            `json:"publicKeyPem"`
	Headers        map[string]string `json:"headers"`
	Body           string            `json:"body"`
	// sign-request
	MchID         string `json:"mchId"`
	SerialNo      string `json:"serialNo"`
	PrivateKeyPem string `json:"privateKeyPem"`
	Method        string `json:"method"`
	URL           string `json:"url"`
}

type answer struct {
	OK            bool                   `json:"ok"`
	Error         string                 `json:"error,omitempty"`
	ID            string                 `json:"id,omitempty"`
	EventType     string                 `json:"eventType,omitempty"`
	Plaintext     string                 `json:"plaintext,omitempty"`
	Content       map[string]interface{} `json:"content,omitempty"`
	Authorization string                 `json:"authorization,omitempty"`
}

func main() {
	var req request
	if err := json.NewDecoder(os.Stdin).Decode(&req); err != nil {
		reply(answer{Error: "bad input: " + err.Error()})
		return
	}
	switch req.Command {
	case "parse-notify":
		reply(parseNotify(req))
	case "sign-request":
		reply(signRequest(req))
	default:
		reply(answer{Error: "unknown command " + req.Command})
	}
}

func reply(a answer) {
	_ = json.NewEncoder(os.Stdout).Encode(a)
}

func parseNotify(req request) answer {
	var verifier auth.Verifier
	if req.PublicKeyPem != "" {
		key, err := utils.LoadPublicKey(req.PublicKeyPem)
		if err != nil {
			return answer{Error: err.Error()}
		}
		verifier = verifiers.NewSHA256WithRSAPubkeyVerifier(req.PublicKeyID, *key)
	} else {
		cert, err := utils.LoadCertificate(req.CertificatePem)
		if err != nil {
			return answer{Error: err.Error()}
		}
		verifier = verifiers.NewSHA256WithRSAVerifier(core.NewCertificateMapWithList([]*x509.Certificate{cert}))
	}
	handler, err := notify.NewRSANotifyHandler(req.APIv3Key, verifier)
	if err != nil {
		return answer{Error: err.Error()}
	}
	httpReq := httptest.NewRequest("POST", "http://127.0.0.1/notify", bytes.NewBufferString(req.Body))
	for k, v := range req.Headers {
		httpReq.Header.Set(k, v)
	}
	content := map[string]interface{}{}
	parsed, err := handler.ParseNotifyRequest(context.Background(), httpReq, &content)
	if err != nil {
		return answer{Error: err.Error()}
	}
	return answer{OK: true, ID: parsed.ID, EventType: parsed.EventType, Plaintext: parsed.Resource.Plaintext, Content: content}
}

func signRequest(req request) answer {
	key, err := utils.LoadPrivateKey(req.PrivateKeyPem)
	if err != nil {
		return answer{Error: err.Error()}
	}
	creds := credentials.WechatPayCredentials{
		Signer: &signers.SHA256WithRSASigner{MchID: req.MchID, CertificateSerialNo: req.SerialNo, PrivateKey: key},
	}
	header, err := creds.GenerateAuthorizationHeader(context.Background(), req.Method, req.URL, req.Body)
	if err != nil {
		return answer{Error: fmt.Sprintf("sign: %v", err)}
	}
	return answer{OK: true, Authorization: header}
}
