package contract

import "time"

// FunctionTimeout is the Lambda function's timeout, and so also the
// handler's deadline: on AWS the context of every invocation ends when the
// function times out, not at API Gateway's longer 29-second integration
// timeout. The stack and the local stand-in read it.
const FunctionTimeout = 25 * time.Second
