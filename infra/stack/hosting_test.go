// The page's hosting: Amplify's token and its rewrite rules.

package stack

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/groupchat/groupchat/contract"
)

// TestAmplifyTokenIsADynamicReference: the token is resolved by
// CloudFormation at deploy time and never appears in the template.
func TestAmplifyTokenIsADynamicReference(t *testing.T) {
	each(t, func(t *testing.T, s *synthesized) {
		app := props(s.resources("AWS::Amplify::App")[s.logicalID(s.stack.Hosting.App)])
		want := "{{resolve:secretsmanager:" + s.cfg.GitHubTokenSecretName + ":SecretString:::}}"
		if app["AccessToken"] != want {
			t.Errorf("AccessToken = %v, want %s", app["AccessToken"], want)
		}
		if n := strings.Count(s.raw, "{{resolve:"); n != 1 {
			t.Errorf("%d dynamic references, want just the token", n)
		}
		for _, secret := range []string{"ghp_", "github_pat_", "OauthToken"} {
			if strings.Contains(s.raw, secret) {
				t.Errorf("template contains %q", secret)
			}
		}
		if app["Repository"] != s.cfg.AmplifyRepository || !strings.Contains(app["BuildSpec"].(string), "appRoot: frontend") {
			t.Errorf("app %v", app)
		}
		branch := props(s.resources("AWS::Amplify::Branch")[s.logicalID(s.stack.Hosting.Branch)])
		if branch["BranchName"] != s.cfg.AmplifyBranch || branch["EnableAutoBuild"] != true {
			t.Errorf("branch %v", branch)
		}
		env := asJSON(branch["EnvironmentVariables"])
		if !strings.Contains(env, `"Name":"`+contract.EnvFrontendWSURL+`","Value":{"Fn::Join":["",["wss://"`) {
			t.Errorf("branch environment %s lacks the stage's wss URL", env)
		}
	})
}

// TestSPARewriteLeavesFilesAlone evaluates the rewrite rule as Amplify does
// (a JavaScript regular expression).
func TestSPARewriteLeavesFilesAlone(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is required (the CDK runs on it too)")
	}
	re := strings.TrimSuffix(strings.TrimPrefix(spaRewrite, "</"), "/>")
	script := `const re = new RegExp(process.argv[1]); for (const p of process.argv.slice(2)) console.log(p, re.test(p))`
	paths := []string{"/", "/room/lobby", "/config.json", "/assets/index-abc123.js", "/assets/index.css", "/favicon.ico"}
	out, err := exec.Command(node, append([]string{"-e", script, re}, paths...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	want := "/ true\n/room/lobby true\n/config.json false\n/assets/index-abc123.js false\n/assets/index.css false\n/favicon.ico false\n"
	if string(out) != want {
		t.Errorf("rewritten paths:\n%s\nwant\n%s", out, want)
	}
}
