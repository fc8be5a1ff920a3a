/** The AWS account in an IAM or STS principal ARN (`arn:<partition>:iam::<account>:…`), if it is one. */
export function accountOf(principalArn: string): string | undefined {
  return /^arn:[\w-]+:(?:iam|sts)::(\d{12}):/.exec(principalArn)?.[1];
}
