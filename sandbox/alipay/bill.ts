// The emulator's daily trade bill, in Alipay's format: a zip holding the detail ("业务明细") and summary
// ("业务明细(汇总)") CSV files, GBK-encoded, names included; '#' comment lines around the table, fields padded with a
// tab as Alipay pads them. Built with node:zlib; GBK is encoded with a table read back from the runtime's own GBK
// decoder (Node has a GBK decoder but no encoder), so no dependency is needed for it.
import { crc32, deflateRawSync } from 'node:zlib';
import { BILL_COLUMNS, BILL_KIND } from '../../channels/alipay/bill';
import { beijingDate, toBeijingTime } from '../../channels/alipay/fields';
import { toDecimalString } from '../../channels/money';
import type { WalletPayment } from '../wallet';

let gbkTable: Map<string, Buffer> | undefined;

/** Text as GBK bytes; a character GBK lacks becomes "?" (as Alipay's exports do). */
export function encodeGbk(text: string): Buffer {
  if (!gbkTable) {
    gbkTable = new Map();
    const decoder = new TextDecoder('gbk');
    for (let lead = 0x81; lead <= 0xfe; lead++) {
      for (let trail = 0x40; trail <= 0xfe; trail++) {
        if (trail === 0x7f) continue;
        const bytes = Buffer.from([lead, trail]);
        const char = decoder.decode(bytes);
        if (char.length === 1 && char !== '\ufffd' && !gbkTable.has(char)) gbkTable.set(char, bytes);
      }
    }
  }
  const parts: Buffer[] = [];
  for (const char of text) {
    const code = char.codePointAt(0)!;
    parts.push(code < 0x80 ? Buffer.from([code]) : (gbkTable.get(char) ?? Buffer.from('?')));
  }
  return Buffer.concat(parts);
}

/** A zip archive of the files, deflated, names in GBK (no UTF-8 flag), as Alipay's bill archive is. */
export function zip(files: { name: string; data: Buffer }[], at = new Date()): Buffer {
  const dosTime = (at.getHours() << 11) | (at.getMinutes() << 5) | Math.floor(at.getSeconds() / 2);
  const dosDate = ((at.getFullYear() - 1980) << 9) | ((at.getMonth() + 1) << 5) | at.getDate();
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const file of files) {
    const name = encodeGbk(file.name);
    const packed = deflateRawSync(file.data);
    const crc = crc32(file.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0, 6);
    local.writeUInt16LE(8, 8);
    local.writeUInt16LE(dosTime, 10);
    local.writeUInt16LE(dosDate, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(packed.length, 18);
    local.writeUInt32LE(file.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0, 8);
    central.writeUInt16LE(8, 10);
    central.writeUInt16LE(dosTime, 12);
    central.writeUInt16LE(dosDate, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(packed.length, 20);
    central.writeUInt32LE(file.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, packed);
    centrals.push(central, name);
    offset += local.length + name.length + packed.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(files.length, 8);
  end.writeUInt16LE(files.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

/** A CSV field, padded with a tab as Alipay pads it, quoted when it holds a comma, a quote or a line break. */
const cell = (value: string) => {
  const padded = `${value}\t`;
  return /[",\r\n]/.test(value) ? `"${padded.replace(/"/g, '""')}"` : padded;
};

const chineseTime = (day: string, time = '00:00:00') => {
  const [y, m, d] = day.split('-');
  return `${y}年${m}月${d}日 ${time}`;
};

/**
 * The trade bill of one Beijing day: a row for each payment paid that day (业务类型 交易) and each refund that
 * succeeded that day (退款, 商家实收 negative). Only what our wallet knows: no stores, operators or discounts.
 */
export function tradeBill(
  payments: Iterable<WalletPayment>,
  day: string,
  account: { sellerId: string; buyerLogonId: (p: WalletPayment) => string },
  now = new Date(),
): Buffer {
  const rows: string[][] = [];
  let paidCount = 0;
  let refundCount = 0;
  let paidTotal = 0;
  let refundTotal = 0;
  const row = (p: WalletPayment, kind: string, finishedAt: string, received: string, requestNo: string) => [
    p.channelPaymentId,
    p.merchantOrderId,
    kind,
    p.description ?? '',
    toBeijingTime(Date.parse(p.createdAt)),
    toBeijingTime(Date.parse(finishedAt)),
    '',
    '',
    '',
    '',
    account.buyerLogonId(p),
    toDecimalString(p.amount, 'CNY'),
    received,
    '0.00',
    '0.00',
    '0.00',
    '0.00',
    '0.00',
    '',
    '0.00',
    '0.00',
    requestNo,
    '0.00',
    '0.00',
    '',
  ];
  for (const p of payments) {
    if (p.paidAt && beijingDate(Date.parse(p.paidAt)) === day) {
      paidCount++;
      paidTotal += p.amount;
      rows.push(row(p, BILL_KIND.payment, p.paidAt, toDecimalString(p.amount, 'CNY'), ''));
    }
    for (const r of p.refunds) {
      if (r.status !== 'SUCCESS' || !r.succeededAt || beijingDate(Date.parse(r.succeededAt)) !== day) continue;
      refundCount++;
      refundTotal += r.amount;
      rows.push(row(p, BILL_KIND.refund, r.succeededAt, `-${toDecimalString(r.amount, 'CNY')}`, r.refundKey));
    }
  }
  const next = beijingDate(Date.parse(`${day}T00:00:00+08:00`) + 24 * 3600_000);
  const head = [
    '#支付宝业务明细查询',
    `#账号：[${account.sellerId}0156]`,
    `#起始日期：[${chineseTime(day)}]   终止日期：[${chineseTime(next)}]`,
  ];
  const exported = `#导出时间：[${chineseTime(beijingDate(now), toBeijingTime(now).slice(11))}]`;
  const detail = [
    ...head,
    '#-----------------------------------------业务明细列表----------------------------------------',
    BILL_COLUMNS.map(cell).join(','),
    ...rows.map((r) => r.map(cell).join(',')),
    '#-----------------------------------------业务明细列表结束------------------------------------',
    `#交易合计：${paidCount}笔，退款合计：${refundCount}笔`,
    exported,
  ].join('\r\n');
  const summary = [
    ...head,
    '#-----------------------------------------业务明细汇总----------------------------------------',
    ['门店编号', '门店名称', '交易订单总笔数', '退款订单总笔数', '订单金额（元）', '商家实收（元）']
      .map(cell)
      .join(','),
    [
      '',
      '合计',
      String(paidCount),
      String(refundCount),
      toDecimalString(paidTotal, 'CNY'),
      toDecimalString(Math.max(0, paidTotal - refundTotal), 'CNY'),
    ]
      .map(cell)
      .join(','),
    '#-----------------------------------------业务明细汇总结束------------------------------------',
    exported,
  ].join('\r\n');
  const stamp = day.replace(/-/g, '');
  return zip(
    [
      { name: `${account.sellerId}0156_${stamp}_业务明细.csv`, data: encodeGbk(detail) },
      { name: `${account.sellerId}0156_${stamp}_业务明细(汇总).csv`, data: encodeGbk(summary) },
    ],
    now,
  );
}
