// Types for cdktf's Jest matchers, registered on vitest's expect in setup-cdktf.ts.
import 'vitest';

interface TerraformConstructType {
  readonly tfResourceType: string;
}

declare module 'vitest' {
  interface Assertion<T = any> {
    toHaveResource(type: TerraformConstructType): T;
    toHaveResourceWithProperties(type: TerraformConstructType, properties: Record<string, unknown>): T;
    toHaveDataSource(type: TerraformConstructType): T;
    toHaveDataSourceWithProperties(type: TerraformConstructType, properties: Record<string, unknown>): T;
  }
}
