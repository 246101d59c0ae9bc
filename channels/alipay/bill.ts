// Alipay's daily trade bill (bill_type "trade"), as alipay.data.dataservice.bill.downloadurl.query's URL serves it: a
// zip of two GBK-encoded CSV files, the detail ("业务明细") and its summary ("业务明细(汇总)"). The detail has '#'
// comment lines around one header line and one row per trade or refund; every field may carry trailing tabs (Alipay
// adds them so spreadsheets keep long numbers as text). Read here with node:zlib and the runtime's GBK decoder: no
// dependency for one file format.
import { crc32, inflateRawSync } from 'node:zlib';
import { fromDecimalString, MoneyFormatError } from '../money';
import { fromBeijingTime } from './fields';

/** The detail file's columns, in Alipay's order. */
export const BILL_COLUMNS = [
  '支付宝交易号',
  '商户订单号',
  '业务类型',
  '商品名称',
  '创建时间',
  '完成时间',
  '门店编号',
  '门店名称',
  '操作员',
  '终端号',
  '对方账户',
  '订单金额（元）',
  '商家实收（元）',
  '支付宝红包（元）',
  '集分宝（元）',
  '支付宝优惠（元）',
  '商家优惠（元）',
  '券核销金额（元）',
  '券名称',
  '商家红包消费金额（元）',
  '卡消费金额（元）',
  '退款批次号/请求号',
  '服务费（元）',
  '分润（元）',
  '备注',
] as const;

/** 业务类型: a payment ("交易") or a refund of one ("退款"). */
export const BILL_KIND = { payment: '交易', refund: '退款' } as const;

export interface BillRow {
  tradeNo: string;
  outTradeNo: string;
  kind: 'payment' | 'refund';
  subject: string;
  /** ISO instant (完成时间: paid, or refunded). */
  finishedAt: string;
  /** In fen, positive: a payment's 订单金额, or what a refund gave back (its 商家实收, which the bill shows negative). */
  amount: number;
  /** 退款批次号/请求号: the refund's out_request_no. */
  refundRequestNo?: string;
}

export class BillFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BillFormatError';
  }
}

/** The files of a zip archive (stored or deflated entries; what Alipay's bill archive uses). */
export function unzip(archive: Buffer): { name: string; data: Buffer }[] {
  // The end-of-central-directory record: 22 bytes plus a comment of at most 64 KiB, at the very end.
  let eocd = -1;
  for (let i = archive.length - 22; i >= Math.max(0, archive.length - 22 - 0xffff); i--) {
    if (archive.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new BillFormatError('not a zip archive');
  const count = archive.readUInt16LE(eocd + 10);
  let at = archive.readUInt32LE(eocd + 16);
  const files: { name: string; data: Buffer }[] = [];
  for (let n = 0; n < count; n++) {
    if (at + 46 > archive.length || archive.readUInt32LE(at) !== 0x02014b50) {
      throw new BillFormatError('broken zip central directory');
    }
    const flags = archive.readUInt16LE(at + 8);
    const method = archive.readUInt16LE(at + 10);
    const crc = archive.readUInt32LE(at + 16);
    const size = archive.readUInt32LE(at + 20);
    const nameLength = archive.readUInt16LE(at + 28);
    const extraLength = archive.readUInt16LE(at + 30);
    const commentLength = archive.readUInt16LE(at + 32);
    const local = archive.readUInt32LE(at + 42);
    const rawName = archive.subarray(at + 46, at + 46 + nameLength);
    // Bit 11: the name is UTF-8; otherwise it is in the archiver's code page (GBK, for Alipay's).
    const name = new TextDecoder(flags & 0x800 ? 'utf-8' : 'gb18030').decode(rawName);
    if (local + 30 > archive.length || archive.readUInt32LE(local) !== 0x04034b50) {
      throw new BillFormatError(`broken zip entry ${name}`);
    }
    const start = local + 30 + archive.readUInt16LE(local + 26) + archive.readUInt16LE(local + 28);
    const packed = archive.subarray(start, start + size);
    let data: Buffer;
    if (method === 0) data = Buffer.from(packed);
    else if (method === 8) data = inflateRawSync(packed);
    else throw new BillFormatError(`zip entry ${name} uses compression method ${method}`);
    if (crc32(data) !== crc) throw new BillFormatError(`zip entry ${name} fails its CRC`);
    files.push({ name, data });
    at += 46 + nameLength + extraLength + commentLength;
  }
  return files;
}

/** One CSV line's fields (RFC 4180 quoting), each trimmed of Alipay's padding. */
export function csvFields(line: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      fields.push(field.trim());
      field = '';
    } else field += c;
  }
  fields.push(field.trim());
  return fields;
}

/** Splits CSV text into records: newlines inside quotes belong to their field. */
function csvRecords(text: string): string[] {
  const records: string[] = [];
  let current = '';
  let quotes = 0;
  for (const line of text.split(/\r?\n/)) {
    current = current ? `${current}\n${line}` : line;
    quotes += (line.match(/"/g) ?? []).length;
    if (quotes % 2 === 0) {
      records.push(current);
      current = '';
      quotes = 0;
    }
  }
  if (current) records.push(current);
  return records;
}

const yuan = (text: string): number => {
  const negative = text.startsWith('-');
  return fromDecimalString(negative ? text.slice(1) : text, 'CNY');
};

/** The rows of the detail file of a bill archive. */
export function readTradeBill(archive: Buffer): BillRow[] {
  for (const file of unzip(archive)) {
    const text = new TextDecoder('gb18030').decode(file.data);
    const records = csvRecords(text).filter((r) => r.trim() !== '' && !r.startsWith('#'));
    const header = records[0] ? csvFields(records[0]) : [];
    // The summary file has other columns; the detail is the file whose header has the trade number and the kind.
    if (!header.includes(BILL_COLUMNS[0]) || !header.includes(BILL_COLUMNS[2])) continue;
    const col = (name: (typeof BILL_COLUMNS)[number]) => {
      const i = header.indexOf(name);
      if (i < 0) throw new BillFormatError(`the bill has no column ${name}`);
      return i;
    };
    const idx = {
      tradeNo: col('支付宝交易号'),
      outTradeNo: col('商户订单号'),
      kind: col('业务类型'),
      subject: col('商品名称'),
      finishedAt: col('完成时间'),
      amount: col('订单金额（元）'),
      received: col('商家实收（元）'),
      refundRequestNo: col('退款批次号/请求号'),
    };
    const rows: BillRow[] = [];
    for (const record of records.slice(1)) {
      const f = csvFields(record);
      const kind = f[idx.kind] === BILL_KIND.payment ? 'payment' : f[idx.kind] === BILL_KIND.refund ? 'refund' : null;
      if (!kind) continue; // other business types (e.g. 结算, 其他) are not payments of ours
      const finishedAt = fromBeijingTime(f[idx.finishedAt] ?? '');
      if (!finishedAt) throw new BillFormatError(`unreadable 完成时间 "${f[idx.finishedAt]}"`);
      const column = kind === 'payment' ? idx.amount : idx.received;
      let amount: number;
      try {
        amount = yuan(f[column] ?? '');
      } catch (err) {
        if (err instanceof MoneyFormatError) throw new BillFormatError(`unreadable ${header[column]}: ${err.message}`);
        throw err;
      }
      const refundRequestNo = f[idx.refundRequestNo];
      rows.push({
        tradeNo: f[idx.tradeNo] ?? '',
        outTradeNo: f[idx.outTradeNo] ?? '',
        kind,
        subject: f[idx.subject] ?? '',
        finishedAt,
        amount,
        ...(kind === 'refund' && refundRequestNo ? { refundRequestNo } : {}),
      });
    }
    return rows;
  }
  throw new BillFormatError('the archive has no trade detail file');
}
