package contract

import "github.com/aws/aws-lambda-go/events"

// AuthorizerEvent is the event API Gateway sends a WebSocket API's $connect
// REQUEST authorizer: the identity source (the token) arrives in the query
// string; the request context is a WebSocket event's (routeKey "$connect",
// eventType "CONNECT", connectionId, stage, apiId). aws-lambda-go's
// APIGatewayCustomAuthorizerRequestTypeRequest is a REST API's, without
// them. The function decodes it and the local stand-in sends it.
type AuthorizerEvent struct {
	Type string `json:"type"` // "REQUEST"
	// MethodArn is arn:aws:execute-api:<region>:<account>:<apiId>/<stage>/$connect.
	MethodArn                       string                                        `json:"methodArn"`
	Headers                         map[string]string                             `json:"headers"`
	MultiValueHeaders               map[string][]string                           `json:"multiValueHeaders"`
	QueryStringParameters           map[string]string                             `json:"queryStringParameters"`
	MultiValueQueryStringParameters map[string][]string                           `json:"multiValueQueryStringParameters"`
	StageVariables                  map[string]string                             `json:"stageVariables"`
	RequestContext                  events.APIGatewayWebsocketProxyRequestContext `json:"requestContext"`
}
