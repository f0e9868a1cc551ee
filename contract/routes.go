// Package contract is the one definition of what the CDK stack, the Lambda
// handler and the local stack must agree on: the WebSocket route table, the
// DynamoDB key schema, the function's timeout and the environment variables that carry generated
// names from the stack to the function. Nobody else spells a route key, a key
// attribute or one of these variable names.
package contract

import (
	"encoding/json"
	"slices"
	"strings"
)

// RouteSelectionExpression is the API's route selection expression: the
// "action" field of a JSON frame picks the route.
const RouteSelectionExpression = "$request.body.action"

// Route keys. The three custom keys double as the "action" values clients send.
const (
	RouteConnect     = "$connect"
	RouteDisconnect  = "$disconnect"
	RouteDefault     = "$default"
	RouteSetName     = "setName"
	RouteSendPublic  = "sendPublic"
	RouteSendPrivate = "sendPrivate"
)

// Route is one entry of the route table.
type Route struct {
	// Key is the route key as API Gateway knows it.
	Key string
	// TwoWay routes have a route response: the integration's response body is
	// sent back to the calling client, saving a management API call. On every
	// other route the handler's reply travels through PostToConnection.
	TwoWay bool
}

var routes = []Route{
	{Key: RouteConnect},
	{Key: RouteDisconnect},
	{Key: RouteDefault, TwoWay: true},
	{Key: RouteSetName},
	{Key: RouteSendPublic},
	{Key: RouteSendPrivate},
}

// Routes returns the route table: every route the API has, in a stable order.
func Routes() []Route { return slices.Clone(routes) }

// LookupRoute returns the route with the given key.
func LookupRoute(key string) (Route, bool) {
	i := slices.IndexFunc(routes, func(r Route) bool { return r.Key == key })
	if i < 0 {
		return Route{}, false
	}
	return routes[i], true
}

// SelectRoute picks the route for a message frame the way API Gateway
// evaluates RouteSelectionExpression: a JSON object whose "action" key (that
// exact spelling) is a string naming a custom route of the table selects that
// route; anything else (not JSON, no action, an "Action" or "ACTION" key, an
// action of another type, an unknown action, or one of the reserved $-keys)
// goes to $default.
func SelectRoute(body []byte) string {
	// A map, not a struct: encoding/json matches struct fields whatever
	// their case, and API Gateway's $request.body.action does not.
	var frame map[string]json.RawMessage
	if json.Unmarshal(body, &frame) != nil {
		return RouteDefault
	}
	var action string
	if json.Unmarshal(frame["action"], &action) != nil || strings.HasPrefix(action, "$") {
		return RouteDefault
	}
	if r, ok := LookupRoute(action); ok {
		return r.Key
	}
	return RouteDefault
}
