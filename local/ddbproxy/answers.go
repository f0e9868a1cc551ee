package ddbproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// Answers of the proxy's own, worded as DynamoDB words them, and its own
// requests to the target.

// callRaw makes a request of the proxy's own to the target and returns its
// answer, whatever its status.
func (p *Proxy) callRaw(ctx context.Context, hdr http.Header, op string, in any) (int, []byte, error) {
	body, err := json.Marshal(in)
	if err != nil {
		return 0, nil, fmt.Errorf("%s: encode the request: %w", op, err)
	}
	req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodPost, p.target+"/", bytes.NewReader(body))
	if err != nil {
		return 0, nil, fmt.Errorf("%s: %w", op, err)
	}
	req.Header = forwardHeader(hdr)
	req.Header.Set("X-Amz-Target", targetPrefix+op)
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s: %w", op, err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, fmt.Errorf("%s: %w", op, err)
	}
	return resp.StatusCode, got, nil
}

func okResponse(body []byte) response {
	return ownAnswer(http.StatusOK, body)
}

// ownAnswer is an answer of the proxy's own with DynamoDB's headers.
func ownAnswer(status int, body []byte) response {
	h := http.Header{}
	h.Set("Content-Type", "application/x-amz-json-1.0")
	h.Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)), 10))
	return response{status: status, header: h, body: body}
}

// apiError is an error answer as DynamoDB words it.
func apiError(status int, code, message string, extra map[string]any) response {
	m := map[string]any{"__type": "com.amazonaws.dynamodb.v20120810#" + code, "message": message}
	for k, v := range extra {
		m[k] = v
	}
	body, _ := json.Marshal(m)
	return ownAnswer(status, body)
}

// Cancellation reason codes (the API reference's TransactionCanceledException).
const (
	reasonNone        = "None"
	reasonCondition   = "ConditionalCheckFailed"
	reasonTxConflict  = "TransactionConflict"
	messageCondition  = "The conditional request failed"
	messageTxConflict = "Transaction is ongoing for the item"
)

// reason is one CancellationReason; Message and Item are left out for None.
type reason struct {
	Code    string
	Message string `json:",omitempty"`
	Item    item   `json:",omitempty"`
}

// cancelled is DynamoDB's TransactionCanceledException: one reason per
// action in request order, their codes repeated in the message.
func cancelled(reasons []reason) response {
	codes := make([]string, len(reasons))
	for i, r := range reasons {
		codes[i] = r.Code
	}
	return apiError(http.StatusBadRequest, "TransactionCanceledException",
		"Transaction cancelled, please refer cancellation reasons for specific reasons ["+strings.Join(codes, ", ")+"]",
		map[string]any{"CancellationReasons": reasons})
}

// conflictReasons gives TransactionConflict for each action held and None
// for the others.
func conflictReasons(held []bool) []reason {
	out := make([]reason, len(held))
	for i, h := range held {
		out[i] = reason{Code: reasonNone}
		if h {
			out[i] = reason{Code: reasonTxConflict, Message: messageTxConflict}
		}
	}
	return out
}

// validation is DynamoDB's ValidationException.
func validation(message string) response {
	return apiError(http.StatusBadRequest, "ValidationException", message, nil)
}

// transactionConflict refuses a plain write of an item that a transaction
// holds, as DynamoDB does.
func transactionConflict() response {
	return apiError(http.StatusBadRequest, "TransactionConflictException",
		"Transaction is ongoing for the item", nil)
}

// tooMany refuses a transaction of more than 100 actions, worded as AWS
// words it in the regions that name the member (others echo the request).
func tooMany() response {
	return validation(fmt.Sprintf("1 validation error detected: Value at 'TransactItems' failed to satisfy constraint: "+
		"Member must have length less than or equal to %d", maxActions))
}
