package contract

// MessageLimit is API Gateway's WebSocket message size limit, 128 KB, in
// bytes: a larger client message closes the connection, and a larger
// management API POST (PostToConnection) is refused with 413
// PayloadTooLargeException ("WebSocket quotas" and the
// ApiGatewayManagementApi reference). The local stand-in (local/gateway)
// and the test kit's management API (internal/testkit/chattest) enforce it,
// so a frame the handler builds over it fails in tests as it would on AWS.
const MessageLimit = 128 << 10

// PayloadTooLarge is the error type API Gateway's management API answers an
// over-size POST with, with HTTP status 413.
const PayloadTooLarge = "PayloadTooLargeException"
