/** What a CloudFormation custom resource answers. */
export interface CustomResourceReply {
  Status: 'SUCCESS' | 'FAILED';
  Reason?: string;
  PhysicalResourceId: string;
  Data?: Record<string, string>;
}
