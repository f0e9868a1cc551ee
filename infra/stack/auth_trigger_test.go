package stack

import (
	"strings"
	"testing"

	"github.com/groupchat/groupchat/contract"
)

// The user pool's Pre sign-up trigger is the one function (issue 22, item
// 2), which therefore reads the issuer and client id from a parameter
// rather than its environment. (With them in its environment the template
// has a cycle, Handler -> UserPool -> Handler, which synthAll's
// CloudFormation validation refuses: the tests do not start.)

const cognitoPrincipal = "cognito-idp.amazonaws.com"

// TestThePreSignUpTriggerIsTheFunction: the pool's PreSignUp is the
// function, Cognito may invoke it for this pool only, and the parameter
// holds the issuer and the app client the function verifies against.
func TestThePreSignUpTriggerIsTheFunction(t *testing.T) {
	eachAuth(t, func(t *testing.T, s *synthesized) {
		fn := s.logicalID(cfnOf(s.stack.Compute.Function))
		var byCognito []map[string]any
		for _, r := range s.resources("AWS::Lambda::Permission") {
			if p := props(r); p["Principal"] == cognitoPrincipal {
				byCognito = append(byCognito, p)
			}
		}
		params := s.resources("AWS::SSM::Parameter")
		if !s.cfg.SignIn() {
			if len(byCognito) != 0 || len(params) != 0 {
				t.Errorf("without sign-in: %d permissions for Cognito, %d parameters", len(byCognito), len(params))
			}
			return
		}
		pool := s.logicalID(cfnOf(s.stack.Auth.UserPool))
		lambdaConfig := props(s.resources("AWS::Cognito::UserPool")[pool])["LambdaConfig"]
		if want := map[string]any{"PreSignUp": arnOf(fn)}; !sameJSON(lambdaConfig, want) {
			t.Errorf("the pool's LambdaConfig %s, want %s", asJSON(lambdaConfig), asJSON(want))
		}
		want := map[string]any{"Action": "lambda:InvokeFunction", "FunctionName": arnOf(fn), "Principal": cognitoPrincipal,
			"SourceArn": arnOf(pool)}
		if len(byCognito) != 1 || !sameJSON(byCognito[0], want) {
			t.Errorf("permissions for Cognito %s, want exactly %s", asJSON(byCognito), asJSON(want))
		}
		// Each refused sign-up is a Lambda error: LambdaErrors subtracts them.
		var lambdaErrors map[string]any
		for id, a := range s.resources("AWS::CloudWatch::Alarm") {
			if strings.Contains(id, "LambdaErrors") {
				lambdaErrors = props(a)
			}
		}
		fnName, stage := asJSON(ref(fn)), asJSON(s.cfg.StageName)
		alarm := asJSON(lambdaErrors["Metrics"])
		for _, want := range []string{`"Expression":"FILL(errors, 0) - FILL(refused, 0)"`, `"Id":"errors"`, `"MetricName":"Errors"`,
			`"Namespace":"AWS/Lambda"`, `"Name":"FunctionName","Value":` + fnName, `"Id":"refused"`,
			`"MetricName":"` + contract.MetricSignUpsRefused + `"`, `"Name":"Stage","Value":` + stage} {
			if !strings.Contains(alarm, want) {
				t.Errorf("LambdaErrors' metrics %s lack %s", alarm, want)
			}
		}
		if len(params) != 1 {
			t.Fatalf("%d SSM parameters, want 1", len(params))
		}
		for _, r := range params {
			p := props(r)
			value := map[string]any{"Fn::Join": []any{"", []any{`{"clientId":"`, ref(s.logicalID(cfnOf(s.stack.Auth.Client))),
				`","issuer":"https://cognito-idp.`, ref("AWS::Region"), ".", ref("AWS::URLSuffix"), "/", ref(pool), `"}`}}}
			if p["Name"] != contract.AuthParameterName(s.cfg.StackName()) || p["Type"] != "String" || p["Tier"] != "Standard" ||
				!sameJSON(p["Value"], value) {
				t.Errorf("the parameter %s, want the name %s and the value %s", asJSON(p), contract.AuthParameterName(s.cfg.StackName()), asJSON(value))
			}
		}
	})
}
