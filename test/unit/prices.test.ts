import { describe, expect, it } from 'vitest';
import { DEFAULT_REFRESH_TYPES, OFFLINE_PRICES, formatPriceTable, isPriceTable, parsePriceListItem, tableFromPriceList } from '../../scripts/core/prices';
import { onDemandPrice } from '../../scripts/core/cost';
import { refreshTypes } from '../../scripts/actions/prices';

/**
 * One GetProducts PriceList entry, in the shape AWS documents for the Price List Query API (a JSON string:
 * product.attributes, then terms.OnDemand.<sku.offerTermCode>.priceDimensions.<rateCode>.pricePerUnit.USD).
 */
function item(instanceType: string, usd: string, over: { regionCode?: string; unit?: string } = {}): string {
  const sku = `SKU${instanceType.replace(/\W/g, '').toUpperCase()}`;
  return JSON.stringify({
    product: {
      productFamily: 'Compute Instance',
      attributes: {
        servicecode: 'AmazonEC2', location: 'US East (N. Virginia)', locationType: 'AWS Region', regionCode: over.regionCode ?? 'us-east-1',
        instanceType, instanceFamily: 'Compute optimized', vcpu: '2', memory: '4 GiB', operatingSystem: 'Linux', tenancy: 'Shared',
        preInstalledSw: 'NA', capacitystatus: 'Used', licenseModel: 'No License required', usagetype: `BoxUsage:${instanceType}`, operation: 'RunInstances',
      },
      sku,
    },
    serviceCode: 'AmazonEC2',
    terms: {
      OnDemand: {
        [`${sku}.JRTCKXETXF`]: {
          priceDimensions: {
            [`${sku}.JRTCKXETXF.6YS6EN2CT7`]: {
              unit: over.unit ?? 'Hrs', endRange: 'Inf', beginRange: '0', appliesTo: [], rateCode: `${sku}.JRTCKXETXF.6YS6EN2CT7`,
              description: `$${usd} per On Demand Linux ${instanceType} Instance Hour`, pricePerUnit: { USD: usd },
            },
          },
          sku, effectiveDate: '2026-11-01T00:00:00Z', offerTermCode: 'JRTCKXETXF', termAttributes: {},
        },
      },
    },
    version: '20261101000000',
    publicationDate: '2026-11-01T00:00:00Z',
  });
}

describe('Price List parsing', () => {
  it('reads the hourly USD on-demand price, type and region of one PriceList item', () => {
    expect(parsePriceListItem(item('c5.large', '0.0850000000'))).toEqual({ instanceType: 'c5.large', regionCode: 'us-east-1', usdPerHour: 0.085 });
  });

  it('leaves a zero, missing or non-hourly price out, so the type stays unknown, never free', () => {
    expect(parsePriceListItem(item('c5.large', '0.0000000000'))).toBeUndefined();
    expect(parsePriceListItem(item('c5.large', 'n/a'))).toBeUndefined();
    expect(parsePriceListItem(item('c5.large', '0.085', { unit: 'Quantity' }))).toBeUndefined();
    expect(parsePriceListItem(JSON.stringify({ product: { attributes: { instanceType: 'c5.large', regionCode: 'us-east-1' } } }))).toBeUndefined();
  });

  it('fails when an item is not JSON at all', () => {
    expect(() => parsePriceListItem('<html>')).toThrow(SyntaxError);
  });

  it('builds a dated table for the asked region only; types without a price are unknown', () => {
    const t = tableFromPriceList([item('c5.large', '0.085'), item('t3.small', '0.0208'), item('t3.small', '0.0236', { regionCode: 'eu-west-1' }), item('x9.odd', '0')], 'us-east-1', '2026-11-25T16:00:00.000Z');
    expect(t.source).toBe('AWS Price List API GetProducts (AmazonEC2, Linux, shared tenancy, no pre-installed software, capacitystatus Used)');
    expect(t.date).toBe('2026-11-25T16:00:00.000Z');
    expect(t.onDemandUsdPerHour).toEqual({ 'us-east-1': { 'c5.large': 0.085, 't3.small': 0.0208 } });
    expect(onDemandPrice(t, 'us-east-1', 'x9.odd')).toBeNull();
    expect(isPriceTable(t)).toBe(true);
  });
});

describe('the offline table', () => {
  it('keeps only the types confirmed from published pages; the rest are unknown', () => {
    expect(isPriceTable(OFFLINE_PRICES)).toBe(true);
    expect(OFFLINE_PRICES.onDemandUsdPerHour['us-east-1']).toMatchObject({ 'c5.large': 0.085, 't3.small': 0.0208, 'm5.large': 0.096 });
    for (const removed of ['c6i.large', 'c7i.large', 'm6i.large', 't3a.micro', 't3.medium']) expect(onDemandPrice(OFFLINE_PRICES, 'us-east-1', removed)).toBeNull();
    expect(formatPriceTable(OFFLINE_PRICES, 'the offline table')).toMatch(/source: .*riceissa.*\n {2}date: observed 2017-12-01/);
  });

  it('refuses a table with a zero or a non-number price', () => {
    expect(isPriceTable({ source: 's', date: 'd', onDemandUsdPerHour: { 'us-east-1': { 'c5.large': 0 } } })).toBe(false);
    expect(isPriceTable({ source: 's', date: 'd', onDemandUsdPerHour: { 'us-east-1': { 'c5.large': '0.085' } } })).toBe(false);
    expect(isPriceTable({ source: 's', onDemandUsdPerHour: {} })).toBe(false);
  });
});

describe('prices --types', () => {
  it('defaults to the offline types and a few common ones', () => {
    expect(refreshTypes(undefined)).toEqual([...DEFAULT_REFRESH_TYPES]);
    expect(refreshTypes(undefined)).toEqual(expect.arrayContaining(['c5.large', 't3.small', 'c7i.large']));
  });
  it('takes a comma list, and fails when an entry is not an instance type', () => {
    expect(refreshTypes('c5.large, t3.small')).toEqual(['c5.large', 't3.small']);
    expect(() => refreshTypes('c5.large,bogus')).toThrow(/--types \(c5\.large,bogus\) must be instance types/);
    expect(() => refreshTypes(',')).toThrow(/--types/);
  });
});
