package stack

import (
	"encoding/json"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/jsii-runtime-go"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/observability"
)

// Sign-in (issue 11): the user pool and its app client, the $connect
// authorizer that runs the one function, what the function and the page are
// told, the AuthFailures alarm, and an open demo (auth "none") without any
// of it. The shipped environments sign in; the variants below are dev with
// one key changed, synthesized with them (stack_test.go's synthAll).

const (
	openEnv   = "open"   // dev with auth "none"
	signUpEnv = "signup" // dev with selfSignUp
)

// variantConfigs are dev's cdk.json entry with auth "none", and with self
// sign-up, each validated by ParseConfig as an environment of its own.
func variantConfigs(ctx map[string]any) ([]Config, error) {
	dev, _ := ctx["dev"].(map[string]any)
	edits := map[string]map[string]any{
		openEnv:   {"auth": contract.AuthNone},
		signUpEnv: {"selfSignUp": true},
	}
	withVariants := maps.Clone(ctx)
	for env, edit := range edits {
		entry := maps.Clone(dev)
		maps.Copy(entry, edit)
		withVariants[env] = entry
	}
	var out []Config
	for _, env := range slices.Sorted(maps.Keys(edits)) {
		cfg, err := ParseConfig(withVariants, env)
		if err != nil {
			return nil, err
		}
		out = append(out, cfg)
	}
	return out, nil
}

// eachAuth runs f on the shipped environments and the variants.
func eachAuth(t *testing.T, f func(t *testing.T, s *synthesized)) {
	for _, env := range []string{"dev", "prod", openEnv, signUpEnv} {
		t.Run(env, func(t *testing.T) { f(t, stacks[env]) })
	}
}

// authorizers is the number of authorizers the stack should have.
func authorizers(s *synthesized) int {
	if s.cfg.SignIn() {
		return 1
	}
	return 0
}

func (s *synthesized) issuer() map[string]any {
	return map[string]any{"Fn::Join": []any{"", []any{"https://cognito-idp.", ref("AWS::Region"), ".", ref("AWS::URLSuffix"), "/",
		ref(s.logicalID(cfnOf(s.stack.Auth.UserPool)))}}}
}

// wantAuthEnvironment is what the function is told about sign-in.
func (s *synthesized) wantAuthEnvironment() map[string]any {
	if !s.cfg.SignIn() {
		return nil
	}
	// The issuer and the client id are in the parameter it names: the
	// pool's trigger is the function (auth_trigger_test.go).
	return map[string]any{contract.EnvAuthParameter: contract.AuthParameterName(s.cfg.StackName())}
}

func TestAuthConfig(t *testing.T) {
	t.Parallel()
	ctx := shippedContext(t)
	for _, env := range []string{"dev", "prod"} {
		cfg, err := ParseConfig(ctx, env)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Auth != contract.AuthCognito || cfg.SelfSignUp {
			t.Errorf("%s: auth %q, selfSignUp %v; want the defaults cognito and false", env, cfg.Auth, cfg.SelfSignUp)
		}
	}
	if d := Defaults("x"); d.Auth != contract.AuthCognito || d.SelfSignUp {
		t.Errorf("Defaults: auth %q, selfSignUp %v", d.Auth, d.SelfSignUp)
	}
	cases := []struct {
		name  string
		edit  map[string]any
		error string // "" when valid
	}{
		{"an open demo, chosen explicitly", map[string]any{"auth": "none"}, ""},
		{"sign-in, said explicitly", map[string]any{"auth": "cognito", "selfSignUp": true}, ""},
		{"an unknown mode", map[string]any{"auth": "ldap"}, "groupchat.dev.auth: want one of cognito, none, got ldap"},
		{"upper case", map[string]any{"auth": "Cognito"}, "groupchat.dev.auth: want one of cognito, none, got Cognito"},
		{"not a string", map[string]any{"auth": true}, "groupchat.dev.auth: want one of cognito, none, got true"},
		{"self sign-up not a boolean", map[string]any{"selfSignUp": "yes"}, "groupchat.dev.selfSignUp: want true or false, got string"},
		{"self sign-up without a user pool", map[string]any{"auth": "none", "selfSignUp": true}, `groupchat.dev.selfSignUp: true needs auth "cognito"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := shippedContext(t)
			entry := maps.Clone(ctx["dev"].(map[string]any))
			maps.Copy(entry, tc.edit)
			ctx["dev"] = entry
			_, err := ParseConfig(ctx, "dev")
			switch {
			case tc.error == "" && err != nil:
				t.Fatalf("error %v, want none", err)
			case tc.error != "" && (err == nil || !strings.Contains(err.Error(), tc.error)):
				t.Fatalf("error = %v, want one containing %q", err, tc.error)
			}
		})
	}
}

// TestCognitoOnlyWithSignIn: the user pool, its client and the authorizer
// exist exactly when auth is cognito, beside the one function.
func TestCognitoOnlyWithSignIn(t *testing.T) {
	eachAuth(t, func(t *testing.T, s *synthesized) {
		want := authorizers(s)
		for typ, n := range map[string]int{"AWS::Cognito::UserPool": want, "AWS::Cognito::UserPoolClient": want,
			"AWS::ApiGatewayV2::Authorizer": want, "AWS::Lambda::Function": 1} {
			if got := count(s, typ); got != n {
				t.Errorf("%d %s, want %d", got, typ, n)
			}
		}
		if !s.cfg.SignIn() && strings.Contains(s.raw, "AWS::Cognito::") {
			t.Error("an open demo's template names a Cognito resource")
		}
		if (s.stack.Auth != nil) != s.cfg.SignIn() {
			t.Errorf("Auth %v with auth %q", s.stack.Auth, s.cfg.Auth)
		}
		if len(s.findings) > 0 {
			t.Errorf("%d unsuppressed cdk-nag findings:\n%s", len(s.findings), strings.Join(s.findings, "\n"))
		}
	})
	t.Run(openEnv+" suppressions", func(t *testing.T) { everyNagSuppressionIsUsed(t, stacks[openEnv]) })
}

// TestConnectAuthorizer: a REQUEST authorizer reading the token from the
// query string runs the one function, on $connect only, uncached, and API
// Gateway may invoke the function as that authorizer only.
func TestConnectAuthorizer(t *testing.T) {
	eachAuth(t, func(t *testing.T, s *synthesized) {
		api := s.logicalID(cfnOf(s.stack.API.Api))
		fn := s.logicalID(cfnOf(s.stack.Compute.Function))
		auths := s.resources("AWS::ApiGatewayV2::Authorizer")
		var authID string
		for id, r := range auths {
			authID = id
			p := props(r)
			want := map[string]any{
				"ApiId": ref(api), "AuthorizerType": "REQUEST", "IdentitySource": []any{contract.AuthIdentitySource},
				"Name": s.cfg.StackName() + "-connect",
				"AuthorizerUri": map[string]any{"Fn::Join": []any{"", []any{"arn:", ref("AWS::Partition"), ":apigateway:", ref("AWS::Region"),
					":lambda:path/2015-03-31/functions/", arnOf(fn), "/invocations"}}},
			}
			// No AuthorizerResultTtlInSeconds: API Gateway caches no WebSocket
			// authorizer's result (it is an HTTP API setting).
			if !sameJSON(p, want) {
				t.Errorf("authorizer:\n got %s\nwant %s", asJSON(p), asJSON(want))
			}
		}
		for _, r := range s.resources("AWS::ApiGatewayV2::Route") {
			p := props(r)
			if p["RouteKey"] == contract.RouteConnect && s.cfg.SignIn() {
				if p["AuthorizationType"] != "CUSTOM" || !sameJSON(p["AuthorizerId"], ref(authID)) {
					t.Errorf("$connect: AuthorizationType %v, AuthorizerId %v; want CUSTOM, %s", p["AuthorizationType"], p["AuthorizerId"], authID)
				}
				continue
			}
			if p["AuthorizerId"] != nil || (p["AuthorizationType"] != nil && p["AuthorizationType"] != "NONE") {
				t.Errorf("route %v: AuthorizationType %v, AuthorizerId %v; want none", p["RouteKey"], p["AuthorizationType"], p["AuthorizerId"])
			}
		}
		var asAuthorizer []map[string]any
		for _, r := range s.resources("AWS::Lambda::Permission") {
			p := props(r)
			if p["Principal"] == cognitoPrincipal {
				continue // the pool's trigger: TestThePreSignUpTriggerIsTheFunction
			}
			if !sameJSON(p["FunctionName"], arnOf(fn)) || p["Action"] != "lambda:InvokeFunction" || p["Principal"] != "apigateway.amazonaws.com" {
				t.Errorf("permission %s", asJSON(p))
			}
			if strings.Contains(asJSON(p["SourceArn"]), "/authorizers/") {
				asAuthorizer = append(asAuthorizer, p)
			}
		}
		if len(asAuthorizer) != authorizers(s) {
			t.Fatalf("%d permissions for authorizers, want %d", len(asAuthorizer), authorizers(s))
		}
		for _, p := range asAuthorizer {
			want := map[string]any{"Fn::Join": []any{"", []any{"arn:", ref("AWS::Partition"), ":execute-api:", ref("AWS::Region"), ":",
				ref("AWS::AccountId"), ":", ref(api), "/authorizers/", ref(authID)}}}
			if !sameJSON(p["SourceArn"], want) {
				t.Errorf("authorizer permission's SourceArn %s, want %s", asJSON(p["SourceArn"]), asJSON(want))
			}
		}
	})
}

// TestRoutesWithoutAuthorizerSayWhy: each route without an authorizer
// carries cdk-nag's APIG4 suppression with the reason of its mode; $connect
// with an authorizer carries none.
func TestRoutesWithoutAuthorizerSayWhy(t *testing.T) {
	eachAuth(t, func(t *testing.T, s *synthesized) {
		for id, r := range s.resources("AWS::ApiGatewayV2::Route") {
			key := props(r)["RouteKey"]
			var reasons []string
			meta, _ := r["Metadata"].(map[string]any)
			nag, _ := meta["cdk_nag"].(map[string]any)
			rules, _ := nag["rules_to_suppress"].([]any)
			for _, rule := range rules {
				if rule := rule.(map[string]any); rule["id"] == "AwsSolutions-APIG4" {
					reasons = append(reasons, rule["reason"].(string))
				}
			}
			var want []string
			switch {
			case !s.cfg.SignIn():
				want = []string{openDemo}
			case key != contract.RouteConnect:
				want = []string{admittedConnection}
			}
			if !slices.Equal(reasons, want) {
				t.Errorf("%s (%v): APIG4 suppressions %q, want %q", id, key, reasons, want)
			}
		}
	})
}

// TestUserPoolSettings: password policy, optional TOTP, recovery by e-mail,
// sign-up per environment, the feature plan, and what the pool outlives.
func TestUserPoolSettings(t *testing.T) {
	eachAuth(t, func(t *testing.T, s *synthesized) {
		if !s.cfg.SignIn() {
			return
		}
		r := s.resources("AWS::Cognito::UserPool")[s.logicalID(cfnOf(s.stack.Auth.UserPool))]
		p := props(r)
		protection := map[bool]string{true: "ACTIVE", false: "INACTIVE"}[s.cfg.DeletionProtection]
		want := map[string]any{
			"UserPoolName": s.cfg.StackName(),
			"Policies": map[string]any{"PasswordPolicy": map[string]any{"MinimumLength": 12, "RequireLowercase": true,
				"RequireNumbers": true, "RequireSymbols": true, "RequireUppercase": true}},
			"MfaConfiguration":       "OPTIONAL",
			"EnabledMfas":            []any{"SOFTWARE_TOKEN_MFA"},
			"AccountRecoverySetting": map[string]any{"RecoveryMechanisms": []any{map[string]any{"Name": "verified_email", "Priority": 1}}},
			"AdminCreateUserConfig":  map[string]any{"AllowAdminCreateUserOnly": !s.cfg.SelfSignUp},
			"AliasAttributes":        []any{"email"},
			"AutoVerifiedAttributes": []any{"email"},
			"UsernameConfiguration":  map[string]any{"CaseSensitive": false},
			"UserPoolTier":           "ESSENTIALS",
			"DeletionProtection":     protection,
		}
		for k, v := range want {
			if !sameJSON(p[k], v) {
				t.Errorf("%s = %s, want %s", k, asJSON(p[k]), asJSON(v))
			}
		}
		// Threat protection (advanced security) is a Plus feature: not set.
		if p["UserPoolAddOns"] != nil || p["SmsConfiguration"] != nil {
			t.Errorf("UserPoolAddOns %v, SmsConfiguration %v; want neither", p["UserPoolAddOns"], p["SmsConfiguration"])
		}
		deletion, replace := "Delete", "Delete"
		if s.cfg.Retain() {
			deletion, replace = "RetainExceptOnCreate", "Retain"
		}
		if r["DeletionPolicy"] != deletion || r["UpdateReplacePolicy"] != replace {
			t.Errorf("DeletionPolicy %v, UpdateReplacePolicy %v; want %s, %s", r["DeletionPolicy"], r["UpdateReplacePolicy"], deletion, replace)
		}
	})
	if stacks[signUpEnv].cfg.SelfSignUp != true || stacks["dev"].cfg.SelfSignUp {
		t.Error("the variants do not cover both sign-up settings")
	}
}

// TestAppClientIsTheBrowsers: no secret, SRP and refresh only (the local
// issuer's USER_PASSWORD_AUTH is not allowed here), 1-hour ID tokens,
// 30-day refresh tokens, no OAuth, and the same answer for unknown users.
func TestAppClientIsTheBrowsers(t *testing.T) {
	eachAuth(t, func(t *testing.T, s *synthesized) {
		if !s.cfg.SignIn() {
			return
		}
		p := props(s.resources("AWS::Cognito::UserPoolClient")[s.logicalID(cfnOf(s.stack.Auth.Client))])
		flows := toStrings(p["ExplicitAuthFlows"])
		slices.Sort(flows)
		if !slices.Equal(flows, []string{"ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_SRP_AUTH"}) {
			t.Errorf("ExplicitAuthFlows %v", flows)
		}
		want := map[string]any{
			"UserPoolId":                      ref(s.logicalID(cfnOf(s.stack.Auth.UserPool))),
			"GenerateSecret":                  false,
			"IdTokenValidity":                 int(contract.IDTokenValidity / time.Minute),
			"AccessTokenValidity":             int(contract.IDTokenValidity / time.Minute),
			"RefreshTokenValidity":            int(contract.RefreshTokenValidity / time.Minute),
			"TokenValidityUnits":              map[string]any{"AccessToken": "minutes", "IdToken": "minutes", "RefreshToken": "minutes"},
			"PreventUserExistenceErrors":      "ENABLED",
			"EnableTokenRevocation":           true,
			"AllowedOAuthFlowsUserPoolClient": false,
		}
		for k, v := range want {
			if !sameJSON(p[k], v) {
				t.Errorf("%s = %s, want %s", k, asJSON(p[k]), asJSON(v))
			}
		}
		for _, k := range []string{"AllowedOAuthFlows", "CallbackURLs", "ClientSecret"} {
			if p[k] != nil {
				t.Errorf("%s = %v, want none", k, p[k])
			}
		}
	})
}

// TestSignInSettingsReachFunctionAndPage: the function's verifier settings,
// the page's build variables and the stack's outputs, all or nothing.
func TestSignInSettingsReachFunctionAndPage(t *testing.T) {
	eachAuth(t, func(t *testing.T, s *synthesized) {
		vars := props(s.resources("AWS::Lambda::Function")[s.logicalID(cfnOf(s.stack.Compute.Function))])["Environment"].(map[string]any)["Variables"].(map[string]any)
		for _, k := range []string{contract.EnvAuthParameter, contract.EnvAuthIssuer, contract.EnvAuthClientID, contract.EnvAuthJWKSURL} {
			want, has := s.wantAuthEnvironment()[k]
			if !sameJSON(vars[k], want) || (vars[k] != nil) != has {
				t.Errorf("function's %s = %s, want %s", k, asJSON(vars[k]), asJSON(want))
			}
		}
		branch := props(s.resources("AWS::Amplify::Branch")[s.logicalID(s.stack.Hosting.Branch)])
		var names []string
		values := map[string]any{}
		for _, v := range branch["EnvironmentVariables"].([]any) {
			v := v.(map[string]any)
			names = append(names, v["Name"].(string))
			values[v["Name"].(string)] = v["Value"]
		}
		wantNames := []string{contract.EnvFrontendWSURL}
		outputs, _ := s.json["Outputs"].(map[string]any)
		authOutputs := []string{"UserPoolId", "UserPoolClientId", "AuthIssuer", "AuthRegion"}
		if !s.cfg.SignIn() {
			for _, o := range authOutputs {
				if outputs[o] != nil {
					t.Errorf("output %s without sign-in", o)
				}
			}
		} else {
			pool, client := ref(s.logicalID(cfnOf(s.stack.Auth.UserPool))), ref(s.logicalID(cfnOf(s.stack.Auth.Client)))
			page := map[string]any{contract.EnvFrontendAuthRegion: ref("AWS::Region"), contract.EnvFrontendUserPoolID: pool,
				contract.EnvFrontendUserPoolClientID: client, contract.EnvFrontendAuthIssuer: s.issuer()}
			wantNames = append(wantNames, contract.EnvFrontendAuthRegion, contract.EnvFrontendUserPoolID,
				contract.EnvFrontendUserPoolClientID, contract.EnvFrontendAuthIssuer)
			if s.cfg.SelfSignUp {
				// The page offers sign-up only where the pool allows it.
				page[contract.EnvFrontendSignUp] = "true"
				wantNames = append(wantNames, contract.EnvFrontendSignUp)
			}
			for k, v := range page {
				if !sameJSON(values[k], v) {
					t.Errorf("page's %s = %s, want %s", k, asJSON(values[k]), asJSON(v))
				}
			}
			for i, v := range []any{pool, client, s.issuer(), ref("AWS::Region")} {
				o, _ := outputs[authOutputs[i]].(map[string]any)
				if !sameJSON(o["Value"], v) || o["Description"] == nil {
					t.Errorf("output %s = %s, want %s with a description", authOutputs[i], asJSON(o), asJSON(v))
				}
			}
		}
		if !slices.Equal(names, wantNames) {
			t.Errorf("page's build variables %v, want %v", names, wantNames)
		}
	})
}

// tokenSafeContext are the access log's $context variables, none of which
// holds the query string (where the token travels), the request's path or
// headers, the identity source or the authorizer's output.
// identity.sourceIp is the caller's address: it tells who sent the refused
// tokens an AuthFailures alarm is about.
var tokenSafeContext = []string{"requestId", "connectionId", "eventType", "routeKey", "status", "requestTimeEpoch",
	"identity.sourceIp", "integration.status", "integration.latency", "integration.error", "error.message"}

// TestAccessLogCarriesNoToken: the access log's fields are $context
// variables that cannot hold the token, and execution logging (which could
// log the request itself) stays off.
func TestAccessLogCarriesNoToken(t *testing.T) {
	risky := regexp.MustCompile(`(?i)querystring|query|request\.|requestpath|path|header|identitysource|authorizer|input|body`)
	eachAuth(t, func(t *testing.T, s *synthesized) {
		p := props(s.resources("AWS::ApiGatewayV2::Stage")[s.logicalID(cfnOf(s.stack.API.Stage))])
		format := p["AccessLogSettings"].(map[string]any)["Format"].(string)
		var fields map[string]string
		if err := json.Unmarshal([]byte(format), &fields); err != nil {
			t.Fatalf("access log format is not a JSON object of strings: %v", err)
		}
		vars := regexp.MustCompile(`\$(\w+)\.([\w.]+)`)
		for name, v := range fields {
			m := vars.FindAllStringSubmatch(v, -1)
			if len(m) != 1 || m[0][0] != v || m[0][1] != "context" {
				t.Errorf("field %s = %q: want exactly one $context variable", name, v)
				continue
			}
			if !slices.Contains(tokenSafeContext, m[0][2]) {
				t.Errorf("field %s = %q: not a variable known to hold no token (tokenSafeContext)", name, v)
			}
			if risky.MatchString(m[0][2]) {
				t.Errorf("field %s = %q may carry the token", name, v)
			}
			if strings.HasPrefix(m[0][2], "identity.") && m[0][2] != "identity.sourceIp" {
				t.Errorf("field %s = %q: an identity field", name, v)
			}
		}
		if strings.Contains(format, contract.AuthQueryParam) {
			t.Errorf("access log format names %q", contract.AuthQueryParam)
		}
		settings := []any{p["DefaultRouteSettings"]}
		if rs, ok := p["RouteSettings"].(map[string]any); ok {
			settings = append(settings, slices.Collect(maps.Values(rs))...)
		}
		for _, st := range settings {
			st, _ := st.(map[string]any)
			if st["DataTraceEnabled"] == true || (st["LoggingLevel"] != nil && st["LoggingLevel"] != "OFF") {
				t.Errorf("execution logging on: %s", asJSON(st))
			}
		}
	})
	// The check itself: the fields a token would leak through are refused.
	for _, v := range []string{"identity.apiKey", "authorizer.principalId", "requestPath"} {
		if slices.Contains(tokenSafeContext, v) {
			t.Errorf("tokenSafeContext admits %s", v)
		}
	}
}

// TestAuthFailuresAlarm: one alarm sums AuthFailures over every reason for
// the stage (a Metrics Insights query over the [Stage, Reason] dimension set
// the function writes), and the dashboard graphs it in all and per reason.
func TestAuthFailuresAlarm(t *testing.T) {
	eachAuth(t, func(t *testing.T, s *synthesized) {
		query := `SELECT SUM(AuthFailures) FROM SCHEMA("GroupChat", Reason, Stage) WHERE Stage = '` + s.cfg.StageName + `'`
		topic := s.logicalID(cfnOf(s.stack.Observability.Topic))
		var found []string
		for id, a := range s.resources("AWS::CloudWatch::Alarm") {
			p := props(a)
			if !strings.Contains(asJSON(p), contract.MetricAuthFailures) {
				continue
			}
			found = append(found, id)
			want := map[string]any{
				"Metrics":            []any{map[string]any{"Expression": query, "Id": "expr_1", "Period": 300, "ReturnData": true}},
				"Threshold":          observability.AuthFailuresThreshold,
				"ComparisonOperator": "GreaterThanOrEqualToThreshold",
				"EvaluationPeriods":  1,
				"TreatMissingData":   "notBreaching",
				"AlarmActions":       []any{ref(topic)},
			}
			for k, v := range want {
				if !sameJSON(p[k], v) {
					t.Errorf("%s %s = %s, want %s", id, k, asJSON(p[k]), asJSON(v))
				}
			}
		}
		if len(found) != authorizers(s) {
			t.Errorf("AuthFailures alarms %v, want %d", found, authorizers(s))
		}
		body := asJSON(props(s.resources("AWS::CloudWatch::Dashboard")[s.logicalID(cfnOf(s.stack.Observability.Dashboard))])["DashboardBody"])
		for _, q := range []string{query, query + " GROUP BY Reason"} {
			if quoted := strings.Trim(asJSON(asJSON(q)), `"`); strings.Contains(body, quoted) != s.cfg.SignIn() {
				t.Errorf("dashboard has %s: %v, want %v", q, !s.cfg.SignIn(), s.cfg.SignIn())
			}
		}
	})
	if !regexp.MustCompile(`^[A-Za-z0-9_]+$`).MatchString(contract.MetricAuthFailures + contract.MetricDimensionReason + contract.MetricDimensionStage) {
		t.Error("the query names the metric and dimensions unquoted: they must be plain identifiers")
	}
	check(t, func() {
		stacks[openEnv].template.ResourcePropertiesCountIs(jsii.String("AWS::CloudWatch::Alarm"),
			map[string]any{"AlarmDescription": stacks[openEnv].cfg.StackName() + ": connections refused at sign-in, every reason together, spiked"}, jsii.Number(0))
	})
}
