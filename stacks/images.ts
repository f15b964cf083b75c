/** Machine images loadfleet knows by name. Plain data: importing it costs nothing (no cdktf). */

/** Amazon Linux 2023, as published by Amazon. */
export const AL2023 = { owners: ['amazon'], namePattern: 'al2023-ami-2023.*-kernel-6.1-x86_64' } as const;
