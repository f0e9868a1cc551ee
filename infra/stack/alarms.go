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

	"github.com/groupchat/groupchat/observability"
)

// comparisons and missingData map the definition's CloudWatch names to
// CDK's enums (whose Go values are member names, not CloudWatch's).
var comparisons = map[observability.Comparison]awscloudwatch.ComparisonOperator{
	observability.GreaterThanOrEqual: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
	observability.GreaterThan:        awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
	observability.LessThan:           awscloudwatch.ComparisonOperator_LESS_THAN_THRESHOLD,
	observability.LessThanOrEqual:    awscloudwatch.ComparisonOperator_LESS_THAN_OR_EQUAL_TO_THRESHOLD,
}

var missingData = map[observability.MissingData]awscloudwatch.TreatMissingData{
	observability.NotBreaching: awscloudwatch.TreatMissingData_NOT_BREACHING,
	observability.Breaching:    awscloudwatch.TreatMissingData_BREACHING,
	observability.Ignore:       awscloudwatch.TreatMissingData_IGNORE,
	observability.Missing:      awscloudwatch.TreatMissingData_MISSING,
}

// newAlarms builds the definition's alarms on m, each notifying topic.
func newAlarms(scope constructs.Construct, m monitored, defs []observability.Alarm, topic awssns.ITopic) []awscloudwatch.Alarm {
	var alarms []awscloudwatch.Alarm
	for _, d := range defs {
		props := &awscloudwatch.AlarmProps{
			AlarmDescription:   jsii.String(m.cfg.StackName() + ": " + d.Description),
			Metric:             m.metric(d.Metric),
			Threshold:          jsii.Number(d.Threshold),
			EvaluationPeriods:  jsii.Number(d.EvaluationPeriods),
			ComparisonOperator: comparisons[d.Comparison],
			TreatMissingData:   missingData[d.TreatMissingData],
		}
		if d.DatapointsToAlarm > 0 && d.DatapointsToAlarm != d.EvaluationPeriods {
			props.DatapointsToAlarm = jsii.Number(d.DatapointsToAlarm)
		}
		a := awscloudwatch.NewAlarm(scope, jsii.String(d.ID), props)
		a.AddAlarmAction(awscloudwatchactions.NewSnsAction(topic))
		alarms = append(alarms, a)
	}
	return alarms
}

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
