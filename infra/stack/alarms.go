// Alarms: one per way the chat fails, all notifying one SNS topic that is
// encrypted, TLS-only and open to this account's CloudWatch alarms.
package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/groupchat/groupchat/contract"
)

// newAlarms builds the alarms on m, each notifying topic; a 5-minute period
// at or above the threshold fires, missing data does not.
func newAlarms(scope constructs.Construct, m monitored, topic awssns.ITopic) []awscloudwatch.Alarm {
	var alarms []awscloudwatch.Alarm
	alarm := func(id, what string, metric awscloudwatch.IMetric, threshold float64) {
		a := awscloudwatch.NewAlarm(scope, jsii.String(id), &awscloudwatch.AlarmProps{
			AlarmDescription:   jsii.String(m.cfg.StackName() + ": " + what),
			Metric:             metric,
			Threshold:          jsii.Number(threshold),
			EvaluationPeriods:  jsii.Number(1),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
		a.AddAlarmAction(awscloudwatchactions.NewSnsAction(topic))
		alarms = append(alarms, a)
	}
	fn := m.compute.Function
	alarm("LambdaErrors", "the handler failed invocations", fn.MetricErrors(stat("Sum")), 1)
	alarm("LambdaThrottles", "the handler was throttled", fn.MetricThrottles(stat("Sum")), 1)
	alarm("LambdaDurationP99", "p99 duration is above 80% of the timeout", fn.MetricDuration(stat("p99")), 0.8*timeoutSeconds*1000)
	// $connect answers 400 to an invalid room by design, so a few integration
	// errors are normal; five in five minutes are not.
	alarm("ApiIntegrationErrors", "integration errors on the WebSocket API", m.apiMetric("IntegrationError", "Sum"), 5)
	alarm("ApiExecutionErrors", "execution errors on the WebSocket API", m.apiMetric("ExecutionError", "Sum"), 1)
	for _, spec := range m.data.Specs {
		id := spec.Contract.ID
		alarm(id+"Throttles", id+" table throttled requests", throttled(spec), 1)
		alarm(id+"SystemErrors", id+" table system errors", systemErrors(spec), 1)
	}
	alarm("FailedDeliveries", "PostToConnection failed for a reason other than 410 Gone", m.own(contract.MetricFailedDeliveries, "Sum"), 1)
	alarm("InternalErrors", "actions were answered with the internal error", m.own(contract.MetricInternalErrors, "Sum"), 1)
	if m.cfg.SignIn() {
		alarm("AuthFailures", "connections refused at sign-in, every reason together, spiked", authFailures(m.cfg, false), authFailuresThreshold)
	}
	return alarms
}

// authFailuresThreshold is the refused connections per 5 minutes that make
// a spike. A page renews its ID token before it connects, so a refusal is
// the exception: a token that expired while a laptop slept, a disabled
// account, a clock far off. One refusal every 15 s, sustained for five
// minutes, is no longer that: a page release that sends bad tokens, or
// someone trying forged or stolen ones (the access log's ip says who).
// A connection without a token at all is refused by API Gateway without
// calling the function (the identity source is missing), so it is not
// counted here; the stage's ClientError shows those.
const authFailuresThreshold = 20

// newAlarmTopic is the alarms' SNS topic: encrypted with a rotating key that
// CloudWatch may use, refusing requests without TLS, and open to publishing
// by this account's CloudWatch alarms.
func newAlarmTopic(scope constructs.Construct, cfg Config) awssns.Topic {
	key := awskms.NewKey(scope, jsii.String("AlarmTopicKey"), &awskms.KeyProps{
		Description:       jsii.String(cfg.StackName() + " alarm topic encryption"),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     removalPolicy(cfg),
	})
	// Only on behalf of this account's alarms, as the topic policy below: the
	// key request CloudWatch makes to publish an alarm to an encrypted topic
	// carries the alarm's account as aws:SourceAccount (EventBridge's does
	// not, so do not copy this condition onto a statement for events).
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("CloudWatchAlarmsPublish"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey*"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{
			"StringEquals": map[string]any{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()},
		},
	}), nil)
	topic := awssns.NewTopic(scope, jsii.String("AlarmTopic"), &awssns.TopicProps{
		DisplayName: jsii.String(cfg.StackName() + " alarms"),
		MasterKey:   key,
		EnforceSSL:  jsii.Bool(true),
	})
	// EnforceSSL gives the topic a policy of its own (a Deny without TLS),
	// which replaces SNS's default policy: CloudWatch alarms of this account
	// and region are allowed to publish explicitly.
	topic.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("CloudWatchAlarmsPublish"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("sns:Publish"),
		Resources:  jsii.Strings(*topic.TopicArn()),
		Conditions: &map[string]any{
			"StringEquals": map[string]any{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()},
			"ArnLike": map[string]any{"aws:SourceArn": "arn:" + *awscdk.Aws_PARTITION() + ":cloudwatch:" +
				*awscdk.Aws_REGION() + ":" + *awscdk.Aws_ACCOUNT_ID() + ":alarm:*"},
		},
	}))
	if cfg.AlarmEmail != "" {
		sub := awssns.NewSubscription(scope, jsii.String("AlarmEmail"), &awssns.SubscriptionProps{
			Topic: topic, Protocol: awssns.SubscriptionProtocol_EMAIL, Endpoint: jsii.String(cfg.AlarmEmail),
		})
		ignoreCfnLint(sub, "ES7000", "An e-mail subscription: SNS retries e-mail delivery itself, and an undelivered "+
			"alarm e-mail has no consumer to replay it to; the alarm state stays visible in CloudWatch and on the dashboard.")
	}
	return topic
}
