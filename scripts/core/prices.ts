/**
 * The offline price table: on-demand USD per hour, Linux, shared tenancy, by region and instance type.
 * Used when the AWS Pricing API cannot be asked (no credentials, no network). A type or region missing
 * here is shown as unknown, never as zero.
 */
export interface PriceTable {
  /** Where the figures come from and when they were taken: shown beside every estimate. */
  readonly source: string;
  readonly date: string;
  readonly onDemandUsdPerHour: Readonly<Record<string, Readonly<Record<string, number>>>>;
}

export const OFFLINE_PRICES: PriceTable = {
  source: 'AWS EC2 On-Demand pricing (Price List API offer AmazonEC2: Linux, shared tenancy, no pre-installed software), transcribed offline',
  date: '2026-11-25',
  onDemandUsdPerHour: {
    'us-east-1': {
      't3.micro': 0.0104, 't3.small': 0.0208, 't3.medium': 0.0416, 't3.large': 0.0832, 't3.xlarge': 0.1664, 't3.2xlarge': 0.3328,
      't3a.micro': 0.0094, 't3a.small': 0.0188, 't3a.medium': 0.0376, 't3a.large': 0.0752,
      'c5.large': 0.085, 'c5.xlarge': 0.17, 'c5.2xlarge': 0.34, 'c5.4xlarge': 0.68, 'c5.9xlarge': 1.53, 'c5.18xlarge': 3.06,
      'c6i.large': 0.085, 'c6i.xlarge': 0.17, 'c6i.2xlarge': 0.34, 'c6i.4xlarge': 0.68, 'c6i.8xlarge': 1.36,
      'c7i.large': 0.08925, 'c7i.xlarge': 0.1785, 'c7i.2xlarge': 0.357, 'c7i.4xlarge': 0.714,
      'm5.large': 0.096, 'm5.xlarge': 0.192, 'm5.2xlarge': 0.384, 'm5.4xlarge': 0.768,
      'm6i.large': 0.096, 'm6i.xlarge': 0.192, 'm6i.2xlarge': 0.384, 'm6i.4xlarge': 0.768,
    },
  },
};
