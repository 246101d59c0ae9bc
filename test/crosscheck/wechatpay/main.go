// A cross-check driver over the vendor's WeChat Pay Go SDK (github.com/wechatpay-apiv3/wechatpay-go): our own
// program, which lets the vendor's code judge ours. It reads one JSON request on stdin and writes one JSON answer.
//
//	parse-notify  the SDK's notify handler verifies and decrypts a notification we produced (as our emulator will),
//	              with a platform certificate or a "WeChat Pay public key"
//	sign-request  the SDK's signer makes a merchant Authorization header, for our verifier to check
//	client        the SDK's real API client (core.NewClient, its signer and its response validator) calls OUR
//	              emulator: Native prepay, queries, close, refund and refund query, in the order given. The SDK's
//	              host is fixed to https://api.mch.weixin.qq.com, so its HTTP transport rewrites every URL to the
//	              emulator's address; nothing else of the SDK is changed. Platform key: the "WeChat Pay public key"
//	              (WithWechatPayPublicKeyAuthCipher), or certificates downloaded from the emulator's
//	              /v3/certificates (WithWechatPayAutoAuthCipher, which decrypts them with the API v3 key).
//
// Used by test/unit/wechatpay-crosscheck.test.ts; built there with the project's Go module cache.
package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"

	"github.com/wechatpay-apiv3/wechatpay-go/core"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/credentials"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/signers"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/verifiers"
	"github.com/wechatpay-apiv3/wechatpay-go/core/notify"
	"github.com/wechatpay-apiv3/wechatpay-go/core/option"
	"github.com/wechatpay-apiv3/wechatpay-go/services/payments/native"
	"github.com/wechatpay-apiv3/wechatpay-go/services/refunddomestic"
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
	// client (and mchId, serialNo, privateKeyPem, apiV3Key, publicKeyId, publicKeyPem above)
	BaseURL string `json:"baseUrl"`
	Mode    string `json:"mode"`
	AppID   string `json:"appId"`
	Calls   []call `json:"calls"`
}

type call struct {
	Op          string `json:"op"`
	OutTradeNo  string `json:"outTradeNo"`
	ID          string `json:"id"`
	OutRefundNo string `json:"outRefundNo"`
	Amount      int64  `json:"amount"`
	Refund      int64  `json:"refund"`
	NotifyURL   string `json:"notifyUrl"`
}

type callResult struct {
	Op     string      `json:"op"`
	OK     bool        `json:"ok"`
	Status int         `json:"status,omitempty"`
	Code   string      `json:"code,omitempty"`
	Error  string      `json:"error,omitempty"`
	Result interface{} `json:"result,omitempty"`
}

type answer struct {
	OK            bool                   `json:"ok"`
	Error         string                 `json:"error,omitempty"`
	ID            string                 `json:"id,omitempty"`
	EventType     string                 `json:"eventType,omitempty"`
	Plaintext     string                 `json:"plaintext,omitempty"`
	Content       map[string]interface{} `json:"content,omitempty"`
	Authorization string                 `json:"authorization,omitempty"`
	Calls         []callResult           `json:"calls,omitempty"`
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
	case "client":
		reply(runClient(req))
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

func runClient(req request) answer {
	base, err := url.Parse(req.BaseURL)
	if err != nil {
		return answer{Error: err.Error()}
	}
	upstream := http.DefaultTransport
	toEmulator := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		r.URL.Scheme, r.URL.Host, r.Host = base.Scheme, base.Host, base.Host
		return upstream.RoundTrip(r)
	})
	// The certificate downloader builds its own client on the default transport: it must reach the emulator too.
	http.DefaultTransport = toEmulator
	privateKey, err := utils.LoadPrivateKey(req.PrivateKeyPem)
	if err != nil {
		return answer{Error: err.Error()}
	}
	ctx := context.Background()
	var auth core.ClientOption
	if req.Mode == "certificate" {
		auth = option.WithWechatPayAutoAuthCipher(req.MchID, req.SerialNo, privateKey, req.APIv3Key)
	} else {
		publicKey, err := utils.LoadPublicKey(req.PublicKeyPem)
		if err != nil {
			return answer{Error: err.Error()}
		}
		auth = option.WithWechatPayPublicKeyAuthCipher(req.MchID, req.SerialNo, privateKey, req.PublicKeyID, publicKey)
	}
	client, err := core.NewClient(ctx, auth, option.WithHTTPClient(&http.Client{Transport: toEmulator}))
	if err != nil {
		return answer{Error: "client: " + err.Error()}
	}
	nativeAPI := native.NativeApiService{Client: client}
	refundAPI := refunddomestic.RefundsApiService{Client: client}
	results := []callResult{}
	for _, c := range req.Calls {
		var result interface{}
		var apiResult *core.APIResult
		var err error
		switch c.Op {
		case "prepay":
			result, apiResult, err = nativeAPI.Prepay(ctx, native.PrepayRequest{
				Appid:       core.String(req.AppID),
				Mchid:       core.String(req.MchID),
				Description: core.String("cross-check " + c.OutTradeNo),
				OutTradeNo:  core.String(c.OutTradeNo),
				NotifyUrl:   core.String(c.NotifyURL),
				Amount:      &native.Amount{Total: core.Int64(c.Amount), Currency: core.String("CNY")},
			})
		case "query":
			result, apiResult, err = nativeAPI.QueryOrderByOutTradeNo(ctx, native.QueryOrderByOutTradeNoRequest{
				OutTradeNo: core.String(c.OutTradeNo), Mchid: core.String(req.MchID),
			})
		case "query-by-id":
			result, apiResult, err = nativeAPI.QueryOrderById(ctx, native.QueryOrderByIdRequest{
				TransactionId: core.String(c.ID), Mchid: core.String(req.MchID),
			})
		case "close":
			apiResult, err = nativeAPI.CloseOrder(ctx, native.CloseOrderRequest{
				OutTradeNo: core.String(c.OutTradeNo), Mchid: core.String(req.MchID),
			})
		case "refund":
			result, apiResult, err = refundAPI.Create(ctx, refunddomestic.CreateRequest{
				OutTradeNo:  core.String(c.OutTradeNo),
				OutRefundNo: core.String(c.OutRefundNo),
				Amount: &refunddomestic.AmountReq{
					Refund: core.Int64(c.Refund), Total: core.Int64(c.Amount), Currency: core.String("CNY"),
				},
			})
		case "refund-query":
			result, apiResult, err = refundAPI.QueryByOutRefundNo(ctx, refunddomestic.QueryByOutRefundNoRequest{
				OutRefundNo: core.String(c.OutRefundNo),
			})
		default:
			err = fmt.Errorf("unknown op %s", c.Op)
		}
		r := callResult{Op: c.Op, OK: err == nil, Result: result}
		if apiResult != nil && apiResult.Response != nil {
			r.Status = apiResult.Response.StatusCode
		}
		if err != nil {
			r.Error = err.Error()
			if apiErr, ok := err.(*core.APIError); ok {
				r.Code = apiErr.Code
			}
			r.Result = nil
		}
		results = append(results, r)
	}
	return answer{OK: true, Calls: results}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
